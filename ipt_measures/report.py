"""The clinical review report: one self-contained HTML file (or a PDF) of a client's course.

For a finished course it is the IPT termination summary: symptom outcome, goals start -> end, the
interpersonal inventory start -> end, the problem-area focus, the critical-item and alert history with
acknowledgements, and the clinician's warning signs and plan. The HTML is rendered through the project's one
presentation layer (:mod:`ipt_measures.presentation`: autoescaping Jinja2 templates and the one stylesheet,
inlined), with the charts of :mod:`ipt_measures.charts` inline as SVG, so the file needs no network, script or
font to open or print. Everything shown comes from :func:`ipt_measures.review.report`; this module lays
out, it decides nothing clinical.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from .charts import number
from .files import write_output
from .review import Report, Series, outcome_line

CATEGORY_CLASS = {
    "recovered": "good",
    "reliably improved": "better",
    "no reliable change": "same",
    "reliably deteriorated": "worse",
    "not assessable": "na",
}

CATEGORY_HELP = [
    ("recovered", "a reliable improvement that also moves the score from the clinical to the non-clinical "
                  "side of the cut-off (Jacobson & Truax 1991)."),
    ("reliably improved", "an improvement at least as large as the reliable-change threshold, without that "
                          "crossing (or where the scale has no cut-off, or the baseline was below it)."),
    ("no reliable change", "any change smaller than the threshold, in either direction: within measurement error."),
    ("reliably deteriorated", "a change in the worse direction at least as large as the threshold."),
    ("not assessable", "fewer than two scored administrations, or no reliable-change parameters for the scale."),
]

RELIABLE_WORDS = {"improved": "reliable improvement", "deteriorated": "reliable deterioration",
                  "no reliable change": "no"}


# -- words and numbers ---------------------------------------------------------------------------------


def signed(value: Any) -> str:
    text = number(value)
    return text if not text or text.startswith("-") or text == "0" else "+" + text


# An ISO date, with the time of day when one follows ("2026-02-23 12:00 UTC").
DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?: ?UTC|Z|[+-]\d{2}:\d{2})?)?\b")


def mark_dates(value: Any) -> Any:
    """``value`` escaped, with every date in it a <time> element (which the stylesheet never breaks at a hyphen).

    A date like 2025-12-29 wrapped at its hyphens in a narrow table column ("2025-12-/29"); every date the
    report prints goes through here.
    """
    from markupsafe import Markup, escape

    def time(m: re.Match) -> str:
        stamp = m.group(1) + (f"T{m.group(2)}Z" if m.group(2) and "UTC" in m.group(0) else "")
        return f'<time datetime="{stamp}">{m.group(0)}</time>'

    return Markup(DATE.sub(time, str(escape("" if value is None else value))))


def yes_no(value: Any) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def threshold_text(series: Series) -> str:
    t = series.threshold
    if t is None:
        return "not defined"
    if t["method"] == "published":
        return f"{number(t['points'])} points (published)"
    return f"more than {number(round(t['points'], 2))} points (RCI, Jacobson & Truax)"


def title_of(report: Report) -> str:
    """The document's title: a finished course's report is its IPT termination summary."""
    kind = "Clinical review" if report.progress.course["active"] else "IPT termination summary"
    return f"{kind}: client {report.progress.client_id}"


def course_facts(report: Report) -> list[tuple[str, str]]:
    """The course's facts as (label, value) lines, shared by the HTML and the PDF."""
    progress = report.progress
    c = progress.course
    status = "active" if c["active"] else f"ended {c.get('end_date')} ({c.get('end_reason') or 'no reason given'})"
    facts = [("Client (pseudonym)", progress.client_id)]
    if report.ipt and report.ipt.get("course_type"):
        kind = report.ipt["course_type"]
        facts.append(("Course type", kind["name"] + (f" ({kind['frequency']})" if kind.get("frequency") else "")))
    facts += [
        ("Problem area(s)", ", ".join(a.replace("-", " ") for a in c["problem_areas"])),
        ("Started", c["start_date"]),
        ("Sessions attended", f"{c['sessions_attended']} of {c['planned_sessions']} planned"),
        ("Current session", f"{c['current_session']} ({c['current_phase']} phase, {c['last_session_date']})"
         if c["current_session"] else "none yet"),
        ("Protocol", c.get("protocol") or "none"),
        ("Status", status),
    ]
    if progress.in_progress:
        facts.append(("In progress, not scored", ", ".join(
            f"{a['instrument']} (session {a['session']})" for a in progress.in_progress)))
    return facts


def measures(report: Report) -> list[Series]:
    """The instruments the report summarises and charts: every one but the goals' own (individualised)
    instrument, whose ratings are the goals chart and table instead."""
    ipt = report.ipt or {}
    goals_instrument = ipt.get("goal_instrument") if ipt.get("goals") else None
    return [s for s in report.progress.series if s.instrument_id != goals_instrument]


def critical_with_alerts(report: Report) -> list[dict]:
    """Each critical item endorsed in the course, with the alert it raised (or None when none is on record)."""
    alerts = {(a.get("administration_id"), str(a.get("item_id"))): a
              for a in report.alerts if a.get("kind") == "critical-item"}
    return [dict(c, alert=alerts.get((c["administration_id"], str(c["item"])))) for c in report.progress.critical_items]


def open_alerts(report: Report, critical: list[dict]) -> tuple[list[dict], list[dict]]:
    """What stays at the top until acknowledged: this course's critical items not acknowledged, then every
    other open alert of the client (this course's, and any left open in an earlier course)."""
    shown = {c["alert"]["id"] for c in critical if c["alert"] is not None}
    open_critical = [c for c in critical if c["alert"] is None or c["alert"]["status"] == "open"]
    others = []
    for a in list(report.alerts) + list(report.progress.open_alerts):
        if a["status"] == "open" and a["id"] not in shown:
            shown.add(a["id"])
            others.append(a)
    return open_critical, others


# -- HTML ----------------------------------------------------------------------------------------------


def render_html(report: Report, generated_at: Optional[datetime] = None) -> str:
    """The whole report as one self-contained HTML document (stylesheet inline, charts inline SVG)."""
    from . import __version__
    from .charts import band_colours, chart_svg, goals_svg, inventory_svg
    from .domain import RATING_ANCHORS
    from .presentation import render, stylesheet

    generated_at = generated_at or datetime.now(timezone.utc)
    progress = report.progress
    critical = critical_with_alerts(report)
    open_critical, open_other = open_alerts(report, critical)
    when = ""
    if open_critical:
        latest = open_critical[-1]["session"]
        when = ("at the current session" if progress.course.get("current_session") == latest
                else f"most recently at session {latest}")
    ipt = report.ipt
    goals = [g for g in (ipt or {}).get("goals") or [] if g["ratings"]]
    shown = measures(report)
    primary = next((s for s in shown if s.instrument_id == progress.primary), None)
    inventory = (ipt or {}).get("inventory") or []
    return render(
        "report.html",
        inline_css=stylesheet(),
        title=title_of(report),
        termination=not progress.course["active"],
        generated=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        progress=progress,
        course=progress.course,
        facts=course_facts(report),
        measures=shown,
        primary=primary,
        critical=critical,
        open_critical=open_critical,
        critical_when=when,
        open_other=open_other,
        acknowledged=[a for a in report.alerts if a["status"] == "acknowledged"],
        charts={s.instrument_id: chart_svg(s, progress) for s in shown},
        goals_chart=goals_svg(goals, progress) if goals else None,
        inventory_chart=inventory_svg(inventory) if inventory else None,
        ipt=ipt,
        anchors=RATING_ANCHORS,
        category_class=CATEGORY_CLASS,
        category_help=CATEGORY_HELP,
        reliable_words=RELIABLE_WORDS,
        band_colours=band_colours,
        threshold_text=threshold_text,
        num=number,
        signed=signed,
        yes_no=yes_no,
        dates=mark_dates,
    )


# -- PDF -----------------------------------------------------------------------------------------------

A4 = (8.27, 11.69)  # inches
INK = "#1d2733"
GREY = "#5b6670"


class PdfFlow:
    """Lays text, tables and charts down A4 pages from the top, starting a new page when one is full.

    Text is wrapped to the page's margins as the renderer measures it, so no line runs off the page
    (a long NHS Talking Therapies line used to) and wrapped lines push what follows down.
    """

    LEFT, RIGHT, TOP, BOTTOM = 0.08, 0.92, 0.955, 0.045  # margins, as fractions of the page

    def __init__(self) -> None:
        self.pages: list[Any] = []
        self.fig: Any = None
        self.y = self.TOP

    def new_page(self) -> None:
        from matplotlib.figure import Figure

        from .charts import renderer_of

        self.fig = Figure(figsize=A4)
        renderer_of(self.fig)
        self.pages.append(self.fig)
        self.y = self.TOP

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` (a fraction of the page) still fits on this one."""
        if self.fig is None or self.y - height < self.BOTTOM:
            self.new_page()

    def space(self, height: float) -> None:
        self.y -= height

    def text(self, text: str, size: float = 10, weight: str = "normal", colour: str = INK, indent: float = 0.0,
             after: float = 0.006) -> None:
        from .charts import renderer_of, wrap_to_width

        if self.fig is None:
            self.new_page()
        width = (self.RIGHT - self.LEFT - indent) * self.fig.bbox.width
        line_height = size * 1.4 / 72 / A4[1]
        for line in wrap_to_width(text, width, size, renderer_of(self.fig), weight):
            self.need(line_height)
            self.fig.text(self.LEFT + indent, self.y, line, fontsize=size, fontweight=weight, color=colour, va="top")
            self.y -= line_height
        self.y -= after

    def heading(self, text: str, size: float = 13) -> None:
        self.need(0.09)  # never a heading alone at the foot of a page
        self.space(0.008)
        self.text(text, size, "bold", after=0.008)

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = 8.5) -> None:
        row_height = size * 2.1 / 72 / A4[1]
        height = row_height * (len(rows) + 1)
        self.need(height)
        ax = self.fig.add_axes((self.LEFT, self.y - height, self.RIGHT - self.LEFT, height))
        ax.axis("off")
        table = ax.table(cellText=rows, colLabels=header, cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1),
                         colWidths=widths)
        table.auto_set_font_size(False)
        table.set_fontsize(size)
        for (row, _), cell in table.get_celld().items():
            cell.set_edgecolor("#d5dbe0")
            if row == 0:
                cell.set_facecolor("#f3f5f7")
        self.y -= height + 0.012

    def axes(self, height: float, left: float = 0.0, right: float = 0.0, above: float = 0.0,
             below: float = 0.0) -> Any:
        """Axes ``height`` tall, with room ``above`` and ``below`` it and inset ``left``/``right`` (page fractions)."""
        self.need(above + height + below)
        self.y -= above
        ax = self.fig.add_axes((self.LEFT + left, self.y - height, self.RIGHT - self.LEFT - left - right, height))
        self.y -= height + below
        return ax


def render_pdf(report: Report, path: Any, generated_at: Optional[datetime] = None) -> None:
    """The same content as a PDF: the summary (course, alerts, outcome, IPT record), then the charts."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages

    from . import __version__
    from .charts import chart_style

    with matplotlib.rc_context(chart_style()):
        pages = pdf_pages(report, generated_at)
        with PdfPages(path, metadata={"Title": title_of(report), "Creator": f"ipt-measures {__version__}"}) as pdf:
            for page in pages:
                pdf.savefig(page)


def pdf_pages(report: Report, generated_at: Optional[datetime] = None) -> list[Any]:
    """The PDF's pages as matplotlib Figures (A4): what :func:`render_pdf` saves and the tests measure."""
    from .charts import CRITICAL, LINE, draw_chart, draw_goals, draw_inventory

    generated_at = generated_at or datetime.now(timezone.utc)
    progress = report.progress
    c = progress.course
    flow = PdfFlow()
    flow.text(title_of(report), 17, "bold", LINE, after=0.004)
    flow.text(f"Course {c['id']} - generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')} - confidential clinical "
              "record", 8.5, colour=GREY, after=0.016)
    critical = critical_with_alerts(report)
    open_critical, open_other = open_alerts(report, critical)
    if open_critical:
        flow.text(f"CRITICAL ITEM{'S' if len(open_critical) > 1 else ''} ENDORSED IN THIS COURSE, NOT ACKNOWLEDGED: "
                  f"{len(open_critical)}", 12, "bold", CRITICAL)
        for item in open_critical:
            flow.text(f"Session {item['session']} ({item['date']}), {item['instrument_name']} item {item['item']} "
                      f"\"{item['answer']}\"", 9.5, "bold", CRITICAL, indent=0.015, after=0.002)
            flow.text(item["message"], 8.5, colour=CRITICAL, indent=0.03)
    if open_other:
        flow.text(f"Open alert{'s' if len(open_other) > 1 else ''}: {len(open_other)}", 11, "bold", "#8a5a00")
        for a in open_other:
            flow.text(f"{a['severity'].upper()}  {_alert_where(a, c['id'])}{a['message']} (alert {a['id']}, raised "
                      f"{str(a['raised_at'])[:10]})", 9, indent=0.015, after=0.002)
        flow.space(0.006)
    flow.heading("Course of treatment")
    for label, value in course_facts(report):
        flow.text(f"{label}:  {value}", 10, after=0.002)
    flow.heading("Symptom outcome" if not c["active"] else "Change summary and outcome")
    shown = measures(report)
    if shown:
        rows = []
        for series in shown:
            s = series.summary
            rows.append([series.short_name, number(s["baseline"]), number(s["latest"]), signed(s["change_from_baseline"]),
                         threshold_text(series), s["category"], yes_no(s.get("clinically_significant")),
                         yes_no(s["responded"]), yes_no(s["in_remission"])])
        flow.table(["Measure", "Baseline", "Latest", "Change", "Reliable change", "Category", "Clin. sig.",
                    "Response", "Remission"], rows, [0.09, 0.08, 0.07, 0.07, 0.24, 0.18, 0.09, 0.09, 0.09])
    for outcome in progress.outcomes:
        flow.text(outcome_line(outcome), 9.5)
    flow.space(0.006)
    flow.text("Baseline is the first scored administration; change is latest minus baseline. Categories follow "
              "Jacobson & Truax (1991); reliable-change thresholds and cut-offs are those published for each "
              "measure (sources in the HTML report).", 8, colour=GREY)

    ipt = report.ipt
    if ipt:
        flow.heading("IPT focus and goals")
        flow.text("Problem-area focus: " + ", ".join(a.replace("-", " ") for a in ipt["problem_areas"]), 10)
        for g in ipt.get("goals") or []:
            start = number(g["first"]) if g["ratings"] else "not rated"
            end = number(g["latest"]) if len(g["ratings"]) > 1 else "-"
            flow.text(f"Goal {g['number']} ({g['problem_area'].replace('-', ' ')}): {g['text']}", 9.5, "bold",
                      indent=0.015, after=0.001)
            flow.text(f"start {start}, end {end}, change {signed(g['change']) or '-'} "
                      f"({len(g['ratings'])} rating(s), Goal-Based Outcomes 0-10)", 9, indent=0.03)
        if not ipt.get("goals"):
            flow.text("No goals agreed for this course.", 9.5, colour=GREY)
    if critical or report.alerts:
        flow.heading("Critical-item and alert history")
        if not critical:
            flow.text("No critical item was endorsed at any administration in this course.", 10)
        for item in critical:
            alert = item["alert"]
            ack = ("no alert on record" if alert is None else
                   "open, not acknowledged" if alert["status"] == "open" else
                   f"acknowledged {str(alert['acknowledged_at'])[:10]} by {alert['acknowledged_by'] or 'not recorded'}: "
                   f"{alert['action']}")
            flow.text(f"Session {item['session']} ({item['date']}), {item['instrument_name']} item {item['item']} "
                      f"\"{item['answer']}\" - {ack}", 9, colour=CRITICAL if alert is None or alert["status"] == "open"
                      else INK, indent=0.015, after=0.002)
        for a in report.alerts:
            if a["status"] == "acknowledged" and a.get("kind") != "critical-item":
                flow.text(f"{_alert_where(a, c['id'])}{a['message']} - acknowledged {str(a['acknowledged_at'])[:10]} by "
                          f"{a['acknowledged_by'] or 'not recorded'}: {a['action']}"
                          + (f" ({a['note']})" if a.get("note") else ""), 9, indent=0.015, after=0.002)
    elif not progress.critical_items:
        flow.text("Critical items: none endorsed in this course.", 10)
    if ipt and (not c["active"] or ipt.get("warning_signs") or ipt.get("plan")):
        flow.heading("Warning signs and plan")
        flow.text("Warning signs:", 10, "bold", after=0.001)
        flow.text(ipt.get("warning_signs") or "not recorded", 9.5, indent=0.015)
        flow.text("Plan:", 10, "bold", after=0.001)
        flow.text(ipt.get("plan") or "not recorded", 9.5, indent=0.015)

    # Charts: the axes leave room left for the scale, right for the band names, below for the legend.
    goals = [g for g in (ipt or {}).get("goals") or [] if g["ratings"]]
    blocks = [("series", s) for s in shown]
    if goals:
        at = next((n + 1 for n, s in enumerate(shown) if s.instrument_id == progress.primary), len(blocks))
        blocks.insert(at, ("goals", goals))
    for n, (kind, item) in enumerate(blocks):
        if n % 2 == 0:
            flow.new_page()
        flow.need(0.42)
        if kind == "series":
            title = f"{item.short_name}: {item.name}" if item.short_name != item.name else item.name
            flow.text(title, 11, "bold")
            ax = flow.axes(0.27, left=0.09, right=0.19, above=0.025, below=0.11)
            draw_chart(flow.fig, ax, item, progress)
        else:
            flow.text("Goals (Goal-Based Outcomes 0-10), on the same sessions", 11, "bold")
            ax = flow.axes(0.27, left=0.09, right=0.19, above=0.025, below=0.11)
            draw_goals(flow.fig, ax, item, progress, with_text=True)
    inventory = (ipt or {}).get("inventory") or []
    if inventory:
        flow.new_page()
        flow.text("Interpersonal inventory, start and end", 11, "bold")
        flow.text("The client at the centre; each relationship in its closeness circle. A larger dot is more support "
                  "(0-4), a red ring is conflict (thicker is more); S = support, C = conflict.", 8.5, colour=GREY)
        width = (flow.RIGHT - flow.LEFT) / 2 - 0.01
        height = width * A4[0] / A4[1]
        flow.need(height + 0.025)
        flow.space(0.025)  # the panels' titles sit above them
        for n, which in enumerate(("start", "end")):
            ax = flow.fig.add_axes((flow.LEFT + n * (width + 0.02), flow.y - height, width, height))
            draw_inventory(flow.fig, ax, inventory, which, which.capitalize())
        flow.space(height + 0.01)
        for rel in inventory:
            flow.text(f"{rel['label']}: start {_rating_words(rel.get('start'))}; end {_rating_words(rel.get('end'))}",
                      8.5, indent=0.015, after=0.001)
    return flow.pages


def _alert_where(a: dict, course_id: Any = None) -> str:
    earlier = f"course {a['course_id']}, " if a.get("course_id") and a["course_id"] != course_id else ""
    if not a.get("session_number"):
        return earlier.replace(", ", ": ")
    where = earlier + f"session {a['session_number']}"
    if a.get("instrument_id"):
        where += f", {a['instrument_id']}"
    if a.get("item_id"):
        where += f" item {a['item_id']}"
    return where + ": "


def _rating_words(r: Optional[dict]) -> str:
    if r is None:
        return "not re-rated"
    return f"{r['closeness']} circle, support {r.get('support')}, conflict {r.get('conflict')}"


# -- entry point ---------------------------------------------------------------------------------------


def write_report(report: Report, path: Path | str, generated_at: Optional[datetime] = None, *, force: bool = False,
                 store: Any = None) -> Path:
    """Write the report as HTML or PDF, chosen by the file's suffix.

    A new file is created readable by its owner only, like the database: it is a clinical record. An
    existing file is replaced only with ``force``; the store's own files never (see ipt_measures/files.py).
    With ``store``, the store's files are protected and the written report is recorded in its audit (who,
    when, which client, format).
    """
    from .files import check_target

    protect = [(p, "the open database") for p in store.files()] if store is not None else []
    check_target(path, force=force, protect=protect)
    path = Path(path)
    # Rendered in memory first, so a failure never leaves a half-written file over an earlier report.
    if path.suffix.lower() == ".pdf":
        buffer = io.BytesIO()
        render_pdf(report, buffer, generated_at)
        data = buffer.getvalue()
    else:
        data = render_html(report, generated_at).encode("utf-8")
    # A regular file is replaced atomically, a device or pipe written in place (see ipt_measures/files.py).
    write_output(path, lambda out: out.write(data), binary=True, force=force, protect=protect)
    if store is not None:
        course = report.progress.course
        store.record_access("report", [report.progress.client_id],
                            f"{'pdf' if path.suffix.lower() == '.pdf' else 'html'} report of course {course['id']};"
                            f" identified; to {path}", destination=str(Path(path).resolve()))
    return path
