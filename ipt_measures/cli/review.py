"""``ipt progress``, ``ipt caseload`` and ``ipt report``: change across a course, for one client or many.

Click wiring and terminal formatting only; the data and every change rule come from
:mod:`ipt_measures.review` (and through it :mod:`ipt_measures.change`). Only Click is imported at top level.
"""

from __future__ import annotations

import click

from .common import SafePath, db_option, open_store
from .output import check_table_format, open_alerts, output_options

class CourseId(click.ParamType):
    """A course id: a positive SQLite integer, so a huge number is refused in one line, not by the driver."""

    name = "ID"

    def convert(self, value, param, ctx):
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a course id (a whole number)", param, ctx)
        if not 1 <= number < 2**63:
            self.fail(f"{value} is not a course id (ids run from 1)", param, ctx)
        return number


COURSE_ID = CourseId()

LEGEND = (
    "Legend: base = baseline (first scored)   +N/-N = change from baseline   R+ reliable improvement   "
    "R- reliable deterioration\n"
    "        !! critical item endorsed   ~ prorated (items missing)   n/s not scored (too many items missing)"
)


def _num(value) -> str:
    if value is None:
        return ""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _signed(value) -> str:
    if value is None:
        return ""
    text = _num(value)
    return text if text.startswith("-") or text == "0" else "+" + text


def _yes_no(value) -> str:
    return "" if value is None else ("yes" if value else "no")


def _use_ascii(force: bool) -> bool:
    if force:
        return True
    import sys

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "▁█".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _cell(point) -> str:
    from ..plain import format_score

    if point.value is None:
        text = "n/s"
    else:
        text = format_score(point.value, point.decimals) + ("~" if point.prorated else "")
        if point.band:
            text += f" {point.band}"
    marks = []
    if point.is_baseline:
        marks.append("base")
    elif point.change_from_baseline is not None:
        marks.append(_signed(point.change_from_baseline))
    if point.reliable == "improved":
        marks.append("R+")
    elif point.reliable == "deteriorated":
        marks.append("R-")
    if point.flags:
        marks.append("!!")
    return text + ("  " + " ".join(marks) if marks else "")


def format_progress(progress, table_format: str = "simple", ascii: bool = False) -> str:
    """The progress view as text: course line, sessions x instruments, change summary, critical items, legend."""
    from tabulate import tabulate

    from ..review import outcome_line

    course = progress.course
    lines = []
    status = (
        f"session {course['current_session']} of {course['planned_sessions']} planned, "
        f"{course['current_phase']} phase"
        if course["current_session"]
        else f"no session yet, {course['planned_sessions']} planned"
    )
    ended = "" if course["active"] else f", ended {course['end_date']} ({course.get('end_reason') or 'no reason given'})"
    lines.append(
        f"Client {progress.client_id}: course {course['id']} ({', '.join(course['problem_areas'])}), "
        f"started {course['start_date']}, {status}{ended}"
    )
    lines.append("")
    if progress.in_progress:
        pending = ", ".join(f"{a['instrument']} (session {a['session']})" for a in progress.in_progress)
        lines.append(f"In progress, not scored yet: {pending}; resume with: ipt administer {progress.client_id}")
        lines.append("")
    if not progress.series:
        lines.append("No completed administration in this course yet (ipt administer CLIENT INSTRUMENT).")
        return "\n".join(lines)

    headers = ["Session", "Date", "Phase"] + [s.short_name for s in progress.series]
    table = []
    for session in progress.sessions:
        row = [session["number"], session["date"], session["phase"]]
        for s in progress.series:
            cells = [_cell(p) for p in s.points if p.session == session["number"]]
            row.append("; ".join(cells))
        table.append(row)
    lines.append(tabulate(table, headers=headers, tablefmt=table_format, disable_numparse=True))
    lines.append("")

    summary_headers = ["Measure", "Baseline", "Latest", "Change", "%", "Reliable change", "Category",
                       "Response", "Remission", "Trend"]
    summary_rows = []
    for s in progress.series:
        m = s.summary
        threshold = s.threshold
        if threshold is None:
            reliable = "not defined"
        elif threshold["method"] == "published":
            reliable = f">= {_num(threshold['points'])} points"
        else:
            reliable = f"> {_num(threshold['points'])} points (RCI)"
        better = {True: "lower is better", False: "higher is better"}.get(s.higher_is_worse, "")
        spark = _spark(s, ascii)
        scale = f"{_num(s.range[0])}-{_num(s.range[1])}" if s.range else ""
        summary_rows.append([
            s.short_name,
            f"{_num(m['baseline'])} (s{m['baseline_session']})" if m["baseline"] is not None else "",
            f"{_num(m['latest'])} (s{m['latest_session']})" if m["latest"] is not None else "",
            _signed(m["change_from_baseline"]),
            _signed(round(m["percent_change"])) + "%" if m["percent_change"] is not None else "",
            reliable,
            m["category"],
            _yes_no(m["responded"]),
            _yes_no(m["in_remission"]),
            f"{spark}  {scale} {better}".rstrip(),
        ])
    lines.append("Change from baseline")
    lines.append(tabulate(summary_rows, headers=summary_headers, tablefmt=table_format, disable_numparse=True))

    for outcome in progress.outcomes:
        lines.append("")
        lines.append(outcome_line(outcome))
    lines.append("")
    if progress.critical_items:
        lines.append("Critical items")
        for c in progress.critical_items:
            lines.append(
                f"  !! session {c['session']} ({c['date']}) {c['instrument_name']} item {c['item']} "
                f"\"{c['answer']}\": {c['message']}"
            )
    else:
        lines.append("Critical items: none endorsed in this course.")
    lines.append("")
    lines.append(LEGEND)
    return "\n".join(lines)


def format_ipt_summary(data: dict) -> list[str]:
    """The IPT summary as lines of text (``ipt course summary`` and ``ipt progress``)."""
    kind = data["course_type"]
    lines = [f"{kind['name']} ({kind['frequency']}), {data['planned_sessions']} sessions planned, "
             f"{data['sessions_attended']} held; problem areas: {', '.join(data['problem_areas'])}"]
    if data["mid_course_review"]:
        lines.append(f"Mid-course review at session {data['mid_course_review']}.")
    if data["inventory"]:
        lines.append("Interpersonal inventory (start -> latest; support and conflict 0-4):")
        for r in data["inventory"]:
            start, end = r["start"], r["end"]
            text = f"  {r['label']} ({r['relationship_type']}): {_rating_text(start)}"
            text += f" -> {_rating_text(end)}" if end else " (not re-rated yet)"
            lines.append(text)
    if data["goals"]:
        lines.append("Goals (0-10, first -> latest):")
        for g in data["goals"]:
            if g["first"] is None:
                span = "not rated yet"
            elif len(g["ratings"]) == 1:
                span = f"{g['first']} (rated once)"
            else:
                span = f"{g['first']} -> {g['latest']}"
            if g["change"] is not None:
                span += f" ({g['change']:+d})"
            lines.append(f"  {g['number']}. [{g['problem_area']}] {g['text']}: {span}")
    if data["warning_signs"]:
        lines.append(f"Warning signs: {data['warning_signs']}")
    if data["plan"]:
        lines.append(f"Plan: {data['plan']}")
    return lines


def _rating_text(r: dict) -> str:
    return f"{r['closeness']}, support {r['support']}, conflict {r['conflict']} (s{r['session_number'] or '-'})"


def _spark(series, ascii: bool) -> str:
    from ..review import sparkline

    low, high = series.range if series.range else (None, None)
    return sparkline(series.values, low, high, ascii=ascii)


@click.command()
@click.argument("client_id", metavar="CLIENT")
@click.option("--course", "course_id", type=COURSE_ID, default=None, help="Course id (default: active, else latest).")
@click.option("--ascii", "force_ascii", is_flag=True, help="Draw trend lines with ASCII characters only.")
@output_options
@db_option
def progress(client_id, course_id, force_ascii, as_json, table_format, db_path):
    """Scores across a client's course: sessions x instruments, change from baseline, trends.

    Each cell shows the total and its band, the change from baseline, R+ / R- for a reliable improvement
    or deterioration, and !! for a critical item. Below: baseline, latest, change, the reliable-change
    threshold, the outcome category, response, remission and a trend line per instrument.

    \b
    Examples:
      ipt progress c001
      ipt progress c001 --json
      ipt progress c001 --course 2 --fmt github
    """
    from ..review import ipt_summary
    from ..review import progress as build

    with open_store(db_path) as store:
        result = build(store, client_id, course_id)
        ipt = ipt_summary(store, client_id, result.course["id"])
    if as_json:
        from .output import print_json

        print_json({**result.to_dict(), "ipt": ipt})  # with open_alerts
        return
    check_table_format(table_format)
    open_alerts(result.open_alerts, client_id)  # at the top, until acknowledged
    click.echo(format_progress(result, table_format, ascii=_use_ascii(force_ascii)))
    if ipt["inventory"] or ipt["goals"] or ipt["warning_signs"] or ipt["plan"] or ipt["course_type"]["id"] != "standard":
        click.echo("")
        click.echo("\n".join(format_ipt_summary(ipt)))
    if result.critical_items:
        last = result.critical_items[-1]
        if result.course["current_session"] == last["session"]:
            click.echo(f"!!! CRITICAL at the current session: {last['message']}", err=True)


def _flag_cells(row) -> str:
    cells = [f"!! {c}" for c in row.open_critical]
    cells += [f"R- {d}" for d in row.deteriorated]
    if row.sessions_unmeasured >= 2:
        cells.append(f"gap {row.sessions_unmeasured} sessions")
    return "; ".join(cells)


@click.command()
@click.option(
    "--sort",
    type=click.Choice(["concern", "client", "session", "score", "change", "category"]),
    default="concern",
    show_default=True,
    help="concern: critical items, then deterioration, then gaps, then category.",
)
@click.option("--reverse", is_flag=True, help="Reverse the order.")
@click.option("--flagged", is_flag=True, help="Only courses with at least one flag.")
@click.option("--clinician", default=None, metavar="NAME", help="Only the courses assigned to this clinician.")
@output_options
@db_option
def caseload(sort, reverse, flagged, clinician, as_json, table_format, db_path):
    """Every active course: current session, latest symptom score, change category and flags.

    Flags: !! an open critical alert (a critical item, or a risk item left unanswered), shown however
    many forms follow until it is acknowledged (ipt alerts ack); R- a reliable deterioration from baseline;
    gap: no measurement for two sessions or more. The measure shown is the course's
    primary symptom measure (depression first, then anxiety, then distress). An open critical alert of a
    client with no active course is shown on stderr above the table, until acknowledged.

    \b
    Examples:
      ipt caseload
      ipt caseload --flagged
      ipt caseload --sort change --json
      ipt caseload --clinician jsmith

    On a shared (PostgreSQL) record a clinician's caseload is their own; a supervisor's, everyone's, with a
    Clinician column.
    """
    from ..review import caseload as build
    from ..review import critical_outside_caseload

    with open_store(db_path) as store:
        rows = build(store, sort=sort, reverse=reverse, clinician=clinician)
        outside = critical_outside_caseload(store, clinician=clinician)
    _show_critical_outside(outside)
    if flagged:
        rows = [r for r in rows if r.flags]
    if as_json:
        from .output import print_json

        print_json([r.to_dict() for r in rows])
        return
    from tabulate import tabulate

    check_table_format(table_format)
    if not rows:
        click.echo("No active course." if not flagged else "No flagged course.")
        return
    table = [
        [
            r.client_id,
            f"{r.current_session or 0}/{r.planned_sessions}",
            r.phase or "",
            r.measure_name or "",
            (f"{_num(r.latest_score)} {r.latest_band or ''}".strip() + f" (s{r.latest_session})")
            if r.latest_score is not None else "",
            _signed(r.change_from_baseline),
            r.category,
            _flag_cells(r),
        ]
        for r in rows
    ]
    headers = ["Client", "Session", "Phase", "Measure", "Latest", "Change", "Category", "Flags"]
    if len({r.clinician for r in rows}) > 1:  # a shared caseload: whose each course is
        headers.insert(1, "Clinician")
        for line, r in zip(table, rows):
            line.insert(1, r.clinician or "")
    click.echo(tabulate(table, headers=headers, tablefmt=table_format, disable_numparse=True))
    click.echo("")
    click.echo(
        "Flags: !! open critical alert, until acknowledged (ipt alerts) | R- reliable deterioration from baseline | "
        "gap: no measurement for 2+ sessions. Change = latest minus baseline."
    )


@click.command()
@click.argument("client_id", metavar="CLIENT")
@click.option("-o", "--output", "output", required=True, type=SafePath(dir_okay=False, writable=True),
              help="File to write: .html (self-contained) or .pdf.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists (never the database).")
@click.option("--course", "course_id", type=COURSE_ID, default=None, help="Course id (default: active, else latest).")
@db_option
def report(client_id, output, force, course_id, db_path):
    """Write a clinical review report of a client's course: one file to open or print.

    Open alerts at the top until acknowledged; the course (problem areas, phase, sessions attended), a
    chart per instrument with its bands, the clinical cut-off and the reliable-change range around
    baseline, the critical-item and alert history with acknowledgements, and the change summary with the
    outcome category. For a finished course it is the IPT termination summary: symptom outcome (reliable
    change, clinical significance, response, remission), goals start to end, the interpersonal inventory
    start to end as closeness circles, the problem-area focus, and the warning signs and plan. HTML is
    self-contained (stylesheet inline, charts inline as SVG, print CSS for A4); the PDF has the same
    summary and charts, without the per-session tables and sources.

    \b
    Examples:
      ipt report c001 -o c001-review.html
      ipt report c001 -o c001-review.pdf
    """
    from pathlib import Path

    from ..errors import UsageError
    from ..report import write_report
    from ..review import report as build

    path = Path(output)
    if path.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise UsageError("the report file must end in .html, .htm or .pdf")
    with open_store(db_path) as store:
        result = build(store, client_id, course_id)
        write_report(result, path, force=force, store=store)
    course = result.progress
    click.echo(f"Wrote {path} ({len(course.series)} instrument(s), {course.course['sessions_attended']} sessions)")
    if course.critical_items:
        click.echo(f"Note: {len(course.critical_items)} critical item(s) in this course; see the report.", err=True)


def _show_critical_outside(alerts: list[dict]) -> None:
    """Open critical alerts of clients with no active course, on stderr before the caseload (a pipe or --json
    cannot hide them), each with what to do: they stay until someone acknowledges them."""
    from .output import open_alerts

    for client_id in dict.fromkeys(a["client_id"] for a in alerts):
        click.secho(f"!! {client_id} has no active course and an open critical alert:", fg="red", bold=True, err=True)
        open_alerts([a for a in alerts if a["client_id"] == client_id], client_id, err=True)
