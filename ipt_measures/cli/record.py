"""Commands for the clinical record and in-session administration: clients, course, session, administer,
due, audit, amend. Click wiring and formatting only; the work is done by :mod:`ipt_measures.record`."""

from __future__ import annotations

import sys

import click

from ..domain import COURSE_TYPES, PHASES, PROBLEM_AREAS
from .common import SafePath, db_option, open_store
from .output import critical, emit, open_alerts, output_options, print_json



def _by_option(func):
    return click.option("--by", "actor", default=None, metavar="NAME",
                        help="Your name, kept in the audit beside your login (default: $IPT_USER).")(func)


def _date_option(help_text):
    return click.option("--date", "date", metavar="YYYY-MM-DD", default=None, help=help_text)


# -- clients -------------------------------------------------------------------------------------------


@click.group()
def clients():
    """Add, list and show clients (pseudonymous ids; a name and birth year are optional)."""


@clients.command("add")
@click.argument("client_id")
@click.option("--name", "display_name", default=None, help="Optional display name (never exported unless asked).")
@click.option("--birth-year", type=int, default=None, help="Optional birth year.")
@db_option
def clients_add(client_id, display_name, birth_year, db_path):
    """Add a client by a pseudonymous id (no spaces; not their name).

    \b
    Example:
      ipt clients add c001
      ipt clients add c002 --name "A.B." --birth-year 1984
    """
    from .. import record

    from ..domain import check_client_id

    check_client_id(client_id)  # before a database is created for it
    with open_store(db_path, create=True) as store:
        client = record.add_client(store, client_id, display_name, birth_year)
    click.echo(f"Added client {client['id']}. Next: ipt course start {client['id']} --problem-area grief --sessions 16")


@clients.command("list")
@output_options
@db_option
def clients_list(as_json, table_format, db_path):
    """List clients with their active course and sessions held.

    \b
    Examples:
      ipt clients list
      ipt clients list --json
    """
    from .. import record

    with open_store(db_path) as store:
        rows = record.list_clients(store)
    emit(rows, as_json=as_json, table_format=table_format,
         columns=["id", "display_name", "clinician", "problem_areas", "sessions", "last_session"])


@clients.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@db_option
def clients_show(client_id, as_json, db_path):
    """One screen about a client: course, phase, each measure's first and latest score, critical items, what is due.

    \b
    Example:
      ipt clients show c001
    """
    from .. import record

    with open_store(db_path) as store:
        summary = record.client_summary(store, client_id)
    if as_json:
        print_json(summary)  # with open_alerts
        return
    _print_summary(summary)


def _print_summary(s: dict) -> None:
    c = s["client"]
    extra = ", ".join(x for x in (c["display_name"] or "", f"born {c['birth_year']}" if c["birth_year"] else "") if x)
    click.secho(f"Client {c['id']}" + (f" ({extra})" if extra else ""), bold=True)
    if c.get("clinician"):
        click.echo(f"Clinician: {c['clinician']}")
    open_alerts(s["open_alerts"], c["id"])  # at the top, until acknowledged
    course = s["course"]
    if course is None:
        click.echo(f"No course yet. Start one: ipt course start {c['id']} --problem-area grief --sessions 16")
        return
    sessions = s["sessions"]
    state = f"ended {course['end_date']} ({course['end_reason']})" if course["end_date"] else "active"
    click.echo(
        f"Course {course['id']}: started {course['start_date']}, {course['planned_sessions']} sessions planned, "
        f"{', '.join(course['problem_areas'])}; protocol {course['protocol'] or 'none'}; {state}"
    )
    if sessions:
        last = sessions[-1]
        click.echo(f"Sessions held: {len(sessions)} of {course['planned_sessions']}; last: session {last['number']} on "
                   f"{last['date']} ({last['phase']} phase)")
    else:
        click.echo(f"No session yet. Start one: ipt session start {c['id']}")
    if s["critical"]:
        for f in s["critical"]:
            click.secho(f"!!! CRITICAL at session {f['session']} ({f['date']}), {f['instrument']}: {f['message']} "
                        f"(item {f['item']}: {f['answer']})", fg="red", bold=True)  # history, not a new alert
    if s["measures"]:
        click.echo("")
        rows = []
        for m in s["measures"]:
            change = "" if m["change"] is None else f"{m['change']:+g}"
            rows.append({"measure": m["instrument"], "given": m["times"],
                         "first": f"{_num(m['first'])} (s{m['first_session']})",
                         "latest": f"{_num(m['latest'])} (s{m['latest_session']})", "band": m["band"],
                         "change": change, "category": m["category"] if m["times"] > 1 else ""})
        emit(rows, as_json=False, table_format="simple")
    for a in s["unfinished"]:
        click.secho(f"Unfinished: {a['instrument_id']} in session {a['session_number']} ({a['answered']} answered), "
                    f"administration {a['id']}: resume with ipt administer {c['id']}", fg="yellow")
    due = s.get("due")
    if due and "error" in due:
        click.echo(f"Due: {due['error']}")
    elif due:
        todo = ", ".join(i["instrument"] + (" (overdue)" if i["kind"] == "overdue" else "")
                         for i in due["items"] if i["state"] in ("to do", "in progress"))
        where = f"session {due['session']}" + ("" if due["started"] else " (not started)")
        click.echo(f"Due at {where}: {todo or 'nothing outstanding'}")


def _num(value):
    return "-" if value is None else f"{value:g}"


# -- courses -------------------------------------------------------------------------------------------


@click.group()
def course():
    """Start, end and show a client's IPT course (standard 12-16 weekly, brief 8, maintenance monthly)."""


@course.command("start")
@click.argument("client_id")
@click.option("--problem-area", "problem_areas", multiple=True, required=True, type=click.Choice(PROBLEM_AREAS),
              help="IPT problem area; repeat for more than one.")
@click.option("--type", "course_type", type=click.Choice(tuple(COURSE_TYPES)), default=None,
              help="Course type: standard (12-16 weekly, the default), brief (IPT-B, 8), maintenance (6-36 monthly).")
@click.option("--sessions", "planned", type=click.IntRange(1, 100), default=None,
              help="Planned number of sessions (default: the type's usual length, 16 for a standard course; "
                   "8 alone means brief IPT).")
@click.option("--start", "start_date", metavar="YYYY-MM-DD", default=None, help="Start date (default: today).")
@click.option("--protocol", default="ipt-default", show_default=True,
              help="Measurement protocol id (see the README (Measurement protocols)); 'none' for no protocol.")
@click.option("--clinician", default=None, metavar="NAME",
              help="The clinician the course (and the client) is assigned to (default: you: your server role on "
                   "PostgreSQL, your login on SQLite). Only an admin assigns someone else on a server.")
@db_option
def course_start(client_id, problem_areas, course_type, planned, start_date, protocol, clinician, db_path):
    """Start a course of IPT for a client.

    \b
    Example:
      ipt course start c001 --problem-area grief --sessions 16
      ipt course start c002 --problem-area role-disputes --problem-area role-transitions --sessions 12
      ipt course start c003 --problem-area role-transitions --sessions 8          (brief IPT)
      ipt course start c004 --problem-area grief --type maintenance --sessions 12 (monthly)
      ipt course start c005 --problem-area grief --clinician jsmith               (an admin assigns)
    """
    from .. import record

    with open_store(db_path) as store:
        c = record.start_course(store, client_id, problem_areas, planned, start_date,
                                None if protocol == "none" else protocol, course_type=course_type, clinician=clinician)
    click.echo(f"Started {c['course_type']} course {c['id']} for {client_id}: {c['planned_sessions']} sessions from {c['start_date']}, "
               f"{', '.join(c['problem_areas'])}, protocol {c['protocol'] or 'none'}, clinician {c['clinician']}. "
               f"Next: ipt session start {client_id}")


@course.command("end")
@click.argument("client_id")
@click.option("--reason", required=True, help="Why it ended: completed, dropped out, referred on...")
@_date_option("End date (default: today).")
@db_option
def course_end(client_id, reason, date, db_path):
    """End the client's active course.

    \b
    Example:
      ipt course end c001 --reason completed
    """
    from .. import record

    with open_store(db_path) as store:
        c = record.end_course(store, client_id, reason, date)
    click.echo(f"Ended course {c['id']} of {client_id} on {c['end_date']}: {c['end_reason']}")


@course.command("summary")
@click.argument("client_id")
@click.option("--warning-signs", default=None, help="Warning signs of relapse the client and clinician agreed (free text).")
@click.option("--plan", default=None, help="The plan after treatment: what to do if warning signs return (free text).")
@click.option("--course", "course_id", type=int, default=None, help="Course id (default: the active course, else the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@_by_option
@db_option
def course_summary(client_id, warning_signs, plan, course_id, as_json, actor, db_path):
    """The IPT end-of-treatment summary: set the warning signs and plan, or show the summary.

    The text is kept in the record (changes audited with the old and new text) and never exported
    de-identified. Without --warning-signs or --plan, shows the course type, problem areas, the inventory
    start -> end, the goals start -> latest, and the warning signs and plan.

    \b
    Examples:
      ipt course summary c001 --warning-signs "Sleeping badly; avoiding my sister" --plan "Call the GP; use the list"
      ipt course summary c001
    """
    from .. import ipt_record
    from ..review import ipt_summary
    from .review import format_ipt_summary

    with open_store(db_path) as store:
        if warning_signs is not None or plan is not None:
            ipt_record.set_summary(store, client_id, warning_signs=warning_signs, plan=plan, course_id=course_id,
                                   actor=actor)
            if not as_json:
                click.echo(f"Saved the end-of-treatment summary of {client_id} (ipt audit {client_id} keeps the history).")
                return
        data = ipt_summary(store, client_id, course_id)
    if as_json:
        print_json(data)
        return
    for line in format_ipt_summary(data):
        click.echo(line)


@course.command("show")
@click.argument("client_id")
@output_options
@db_option
def course_show(client_id, as_json, table_format, db_path):
    """List a client's courses.

    \b
    Example:
      ipt course show c001 --json
    """
    from .. import record

    with open_store(db_path) as store:
        rows = record.list_courses(store, client_id)
    emit(rows, as_json=as_json, table_format=table_format,
         columns=["id", "course_type", "start_date", "planned_sessions", "sessions_held", "problem_areas", "protocol", "end_date", "end_reason"])


# -- sessions ------------------------------------------------------------------------------------------


@click.group()
def session():
    """Start, list and amend sessions of the active course."""


@session.command("start")
@click.argument("client_id")
@_date_option("Session date (default: today).")
@click.option("--phase", type=click.Choice(PHASES), default=None,
              help="Override the phase derived from the session number (see the README (Measurement protocols)).")
@click.option("--yes", "-y", is_flag=True, help="Start it without asking about a same-day or future date.")
@db_option
def session_start(client_id, date, phase, yes, db_path):
    """Start the client's next session (numbered after the last one; phase derived from the number).

    A second session on the day of the last one, or a date still to come, is asked about first on a
    terminal (noted on stderr when not on one); --yes starts it without asking.

    \b
    Example:
      ipt session start c001
      ipt session start c001 --date 2026-01-12
    """
    from .. import record

    with open_store(db_path) as store:
        concerns = [] if yes else record.session_date_concerns(store, client_id, date)
        if concerns:
            why = "; ".join(concerns)
            if _is_terminal(sys.stdin):
                if not click.confirm(f"Note: {why}. Start the session anyway?", default=False):
                    click.echo("Nothing changed.", err=True)
                    sys.exit(1)
            else:
                click.echo(f"Note: {why} (check the date; correct it with: ipt session amend).", err=True)
        s = record.start_session(store, client_id, date, phase)
        report = record.due(store, client_id, s["number"])
        alerts = record.list_alerts(store, client_id)
    open_alerts(alerts, client_id)  # before the session's work starts, until acknowledged
    click.echo(f"Session {s['number']} of {client_id} on {s['date']} ({s['phase']} phase).")
    if report.to_give:
        click.echo(f"Due: {', '.join(report.to_give)}. Give them: ipt administer {client_id} --due")


@session.command("list")
@click.argument("client_id")
@output_options
@db_option
def session_list(client_id, as_json, table_format, db_path):
    """List the sessions of the active course with the measures given in each.

    \b
    Example:
      ipt session list c001
    """
    from .. import record

    with open_store(db_path) as store:
        rows = record.list_sessions(store, client_id)
    emit(rows, as_json=as_json, table_format=table_format, columns=["number", "date", "phase", "measures"])


@session.command("amend")
@click.argument("client_id")
@click.argument("number", type=int)
@_date_option("The corrected date.")
@click.option("--phase", type=click.Choice(PHASES), default=None, help="The corrected phase.")
@click.option("--reason", required=True, help="Why it is corrected (kept in the audit trail).")
@_by_option
@db_option
def session_amend(client_id, number, date, phase, reason, actor, db_path):
    """Correct a session's date or phase: kept as an amendment (who, when, why, old and new).

    \b
    Example:
      ipt session amend c001 3 --date 2026-01-20 --reason "entered on the wrong day"
    """
    from .. import record

    with open_store(db_path) as store:
        s = record.amend_session(store, client_id, number, reason, date=date, phase=phase, actor=actor)
    click.echo(f"Amended session {s['number']} of {client_id}: {s['date']}, {s['phase']} phase.")


# -- administering -------------------------------------------------------------------------------------


class TerminalFrontend:
    """The administration engine's front end on a terminal: one item at a time, EOF-safe line reading."""

    def __init__(self, stdin=None):
        self.stdin = stdin or sys.stdin

    def intro(self, engine, client_id, resumed=False):
        inst = engine.instrument
        rec = engine.record
        click.echo("")
        title = f"{inst.short_name or inst.name} - {inst.name}" if inst.short_name else inst.name
        click.secho(title, bold=True)
        click.echo(f"Client {client_id}, session {rec['session_number']}.")
        if inst.respondent == "clinician-rated":
            click.echo("Clinician-rated: enter your rating for each item.")
        if inst.recall_period:
            click.echo(f"Recall period: {inst.recall_period}.")
        if inst.instructions:
            click.echo(inst.instructions)
        if resumed:
            number, total = engine.position
            click.echo(f"Resuming at item {number} of {total} ({engine.answered_count} already answered and saved).")
        click.echo("Type the number of an answer; b back, s skip, d declined, ? help, q save and quit.")

    def show_item(self, engine):
        number, total = engine.position
        item = engine.current
        click.echo("")
        click.secho(f"Item {number} of {total}", bold=True, nl=False)
        click.echo(f"  {item.display()}" + ("  (optional)" if item.optional else ""))
        for option in engine.options(item):
            click.echo(f"  {option.value:>3}  {option.label}")
        stored = engine.stored(item)
        if stored:
            shown = stored["value"] if stored["status"] == "answered" else stored["status"]
            click.echo(f"  (saved answer: {shown}; Enter keeps it, or type a new one)")

    def read(self, prompt: str = "> "):
        """One line, after the prompt (shown again after every message, an invalid key's included); None at EOF.

        On a terminal the line is read through readline, so the arrow keys and the usual editing keys work.
        """
        if self.stdin is sys.stdin and _is_terminal(sys.stdin) and _is_terminal(sys.stdout):
            try:
                import readline  # noqa: F401 -- importing it is what gives input() line editing
            except ImportError:  # no readline on this platform: plain input() still reads the line
                pass
            try:
                return input(prompt) + "\n"
            except EOFError:
                return None
            except (OSError, ValueError):  # closed terminal
                return None
        click.echo(prompt, nl=False)
        try:
            line = self.stdin.readline()
        except (OSError, ValueError):  # closed terminal
            return None
        if line == "":
            return None
        return line

    def say(self, message):
        click.echo(message)

    def critical(self, flag):
        _critical(f"{flag.message} (item {flag.item}: {flag.answer})")


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _critical(message: str, *, banner: bool = True) -> None:
    """``banner=False`` writes the stderr line only, for when stdout carries JSON."""
    critical(message, banner=banner)


def _print_result(result) -> None:
    inst = result.instrument
    a = result.administration
    click.echo("")
    click.secho(f"{inst.short_name or inst.name} ({inst.id}), session {a['session_number']}: complete and saved",
                bold=True)
    from ..describe import score_lines

    for line in score_lines(result.score):
        click.echo(line)
    if result.previous_total is not None:
        click.echo(f"Total before the amendment: {_num(result.previous_total)}")
    if result.baseline:
        b = result.baseline
        ch = result.change or {}
        if ch.get("change") is not None:
            words = f" ({ch['category']})" if ch.get("category") and ch["category"] != "not assessable" else ""
            click.echo(f"Change since session {b['session']} (first {inst.id} of this course): "
                       f"{_num(b['total'])} -> {_num(result.score.total.value)} ({ch['change']:+g}){words}")
        else:
            click.echo(f"First {inst.id} of this course: session {b['session']}, {_num(b['total'])} (change not computable)")
    else:
        click.echo(f"This is the first {inst.id} of this course (the baseline).")
    for alert in result.alerts:
        if alert.get("severity") == "critical":
            _critical(alert["message"])
        else:
            click.secho(f"{alert.get('severity', 'note').upper()}: {alert['message']}", fg="yellow", bold=True)


def _saved_and_exit(client_id, engine, code, why):
    n = engine.answered_count if engine is not None else 0
    click.echo("")
    click.echo(f"{why}Saved {n} answer{'s' if n != 1 else ''}; resume with: ipt administer {client_id}", err=True)
    sys.exit(code)


@click.command()
@click.argument("client_id")
@click.argument("instruments", nargs=-1)
@click.option("--session", "session_number", type=int, default=None,
              help="Session number (default: the latest session of the active course).")
@click.option("--due", "use_due", is_flag=True, help="Give what the course's protocol says is due or overdue.")
@click.option("--answers", default=None,
              help="Enter a paper form: answers in item order, comma-separated; empty or '-' for a missing answer.")
@click.option("--from-file", "from_file", type=SafePath(dir_okay=False), default=None,
              help="Enter several paper forms from a CSV (instrument,answers) or JSON ([{instrument, answers}]) file.")
@click.option("--abandon", "abandon_ids", type=int, multiple=True, metavar="ID",
              help="Abandon an interrupted administration (kept, not scored) instead of resuming it.")
@click.option("--reason", default="", help="Why, with --abandon.")
@click.option("--json", "as_json", is_flag=True, help="With --answers/--from-file: print the results as JSON.")
@db_option
def administer(client_id, instruments, session_number, use_due, answers, from_file, abandon_ids, reason, as_json, db_path):
    """Give measures in session, one item at a time; every answer is saved as it is given.

    Shows the instructions and recall period, then each item with its numbered answers. Type the number,
    or b (back), s (skip, where the instrument allows it), d (the client declines), ? (help), q (save and
    quit). A critical item (e.g. PHQ-9 item 9) is shown at once. At the end: total, band, subscales and
    change since the course's first administration of the measure.

    An interrupted administration (q, Ctrl-C, a closed terminal) is resumed at the next unanswered item by
    running `ipt administer CLIENT` again, or dropped with --abandon ID.

    \b
    Examples:
      ipt administer c001 phq9 gad7
      ipt administer c001 --due
      ipt administer c001                         (resume what was interrupted)
      ipt administer c001 phq9 --answers 1,2,0,1,1,0,2,1,0
      ipt administer c001 --from-file forms.csv --session 2
    """
    from .. import record

    with open_store(db_path) as store:
        store.get_client(client_id)
        if abandon_ids:
            for admin_id in abandon_ids:
                a = record.abandon(store, admin_id, reason, client_id)
                click.echo(f"Abandoned administration {admin_id} ({a['instrument_id']}, session {a['session_number']}); "
                           "it is kept in the record, unscored.")
            return
        # The client's open alerts first, before anything is asked or entered, until acknowledged; under
        # --json on stderr, so standard output stays JSON and a clinician at the terminal still sees them.
        open_alerts(record.list_alerts(store, client_id), client_id, err=as_json)
        if answers is not None or from_file:
            _enter(store, client_id, instruments, session_number, answers, from_file, as_json)
            return
        _interactive(store, client_id, list(instruments), session_number, use_due)


def _enter(store, client_id, instruments, session_number, answers, from_file, as_json):
    from .. import record
    from ..errors import UsageError

    if answers is not None and from_file:
        raise UsageError("give --answers or --from-file, not both")
    if answers is not None:
        if len(instruments) != 1:
            raise UsageError("--answers enters one instrument: name exactly one (e.g. ipt administer c001 phq9 --answers ...)")
        entries = [record.Entry(instruments[0], answers)]
        source = "answers"
    else:
        if len(instruments) > 1:
            raise UsageError("with --from-file name at most one instrument (for a file without an instrument column)")
        entries = record.read_entries_file(from_file, instruments[0] if instruments else None)
        source = "file"
    results = record.enter_answers(store, client_id, entries, session_number, source=source)
    if as_json:
        # Each result carries the client's open alerts after this entry (the ones it raised among them), as
        # every other command's JSON does, so a script sees what awaits acknowledgement.
        still_open = record.list_alerts(store, client_id)
        print_json([{**r.as_dict(), "open_alerts": still_open} for r in results])
        for r in results:  # critical items still reach the clinician when stdout goes to a program
            for alert in r.alerts:
                if alert.get("severity") == "critical":
                    _critical(alert["message"], banner=False)
        return
    for r in results:
        _print_result(r)
    click.echo(f"\nStored {len(results)} administration{'s' if len(results) != 1 else ''} for {client_id}.")


def _ask_choice(ui, question, choices, default):
    """Ask a one-letter question until answered; None at EOF."""
    while True:
        line = ui.read(prompt=f"{question} ")
        if line is None:
            return None
        text = line.strip().lower() or default
        if text in choices:
            return text
        click.echo(f"Please type one of: {', '.join(choices)}.")


def _interactive(store, client_id, instruments, session_number, use_due):
    from .. import get_instrument, record
    from ..administer import run
    from ..errors import UsageError

    ui = TerminalFrontend()
    pending = record.unfinished(store, client_id)
    battery = list(dict.fromkeys(instruments))
    if use_due:
        report = record.due(store, client_id, session_number)
        for missing in report.unavailable:
            click.secho(f"Note: {missing} is due but not available (no plugin registers it; see: ipt plugins).",
                        fg="yellow", err=True)
        due_list = report.to_give
        if not due_list and not battery:
            click.echo(f"Nothing is due at session {report.session} for {client_id}.")
            return
        battery += [i for i in due_list if i not in battery]
    plan: list[tuple[str, object]] = []  # ("new", instrument_id) or ("resume", administration row)
    if not battery:
        if not pending:
            raise UsageError(f"name the measures to give (e.g. ipt administer {client_id} phq9), or use --due")
        plan = [("resume", a) for a in pending]
    else:
        session = record.get_session(store, client_id, session_number)
        # Unknown ids fail before anything is asked; a differently cased id (PHQ9) becomes the registered one.
        battery = list(dict.fromkeys(get_instrument(instrument_id).id for instrument_id in battery))
        for instrument_id in battery:
            open_ones = [a for a in pending if a["instrument_id"] == instrument_id]
            if not open_ones:
                plan.append(("new", instrument_id))
                continue
            a = open_ones[-1]
            click.echo(f"{instrument_id} was interrupted in session {a['session_number']} after {a['answered']} "
                       f"answer{'s' if a['answered'] != 1 else ''} (administration {a['id']}).")
            choice = _ask_choice(ui, "Resume it [r], abandon it and start again [a], or quit [q]? [r]", ("r", "a", "q"), "r")
            if choice is None or choice == "q":
                click.echo("Nothing changed.", err=True)
                sys.exit(0 if choice == "q" else 1)
            if choice == "r":
                plan.append(("resume", a))
            else:
                record.abandon(store, a["id"], "abandoned to start again")
                plan.append(("new", instrument_id))
        others = [a for a in pending if a["instrument_id"] not in battery]
        for a in others:
            click.echo(f"Note: {a['instrument_id']} from session {a['session_number']} is unfinished "
                       f"(administration {a['id']}); resume with ipt administer {client_id}, or --abandon {a['id']}.",
                       err=True)
        from datetime import date

        if session_number is None and session["date"] != date.today().isoformat():
            click.echo(f"Note: giving these in session {session['number']} dated {session['date']}; for a new "
                       f"session first run: ipt session start {client_id}", err=True)

    results = []
    engine = None
    try:
        for kind, what in plan:
            if kind == "resume":
                engine = record.resume(store, what["id"])
                ui.intro(engine, client_id, resumed=True)
            else:
                engine = record.begin(store, client_id, what, session_number)
                ui.intro(engine, client_id)
            outcome = run(engine, ui)
            if outcome.status == "quit":
                _saved_and_exit(client_id, engine, 0, "")
            if outcome.status == "eof":
                _saved_and_exit(client_id, engine, 1, "Input ended before the last item. ")
            result = record.complete(store, engine)
            results.append(result)
            _print_result(result)
            engine = None
    except KeyboardInterrupt:
        _saved_and_exit(client_id, engine, 130, "Interrupted. ")
    flagged = [(r, a) for r in results for a in r.alerts if a.get("severity") == "critical"]
    if len(results) > 1:
        click.echo("")
        click.secho("Summary", bold=True)
        for r in results:
            click.echo(f"  {r.instrument.short_name or r.instrument.id}: {_num(r.score.total.value)}"
                       + (f", {r.score.total.band}" if r.score.total.band else ""))
        for r, a in flagged:
            _critical(f"{r.instrument.short_name or r.instrument.id}: {a['message']}")


# -- due, audit, amend ---------------------------------------------------------------------------------


@click.command()
@click.argument("client_id")
@click.option("--session", "session_number", type=int, default=None,
              help="Session number (default: the latest started, or the first if none).")
@output_options
@db_option
def due(client_id, session_number, as_json, table_format, db_path):
    """What the course's measurement protocol says is due at this session, and what is overdue.

    \b
    Examples:
      ipt due c001
      ipt due c001 --session 8 --json
    """
    from .. import record

    with open_store(db_path) as store:
        report = record.due(store, client_id, session_number)
    if as_json:
        print_json(report.as_dict())
        return
    where = f"session {report.session} of {report.planned}, {report.phase} phase"
    if not report.started:
        where += "; not started yet"
    click.echo(f"{client_id}: {where}; protocol {report.protocol or 'none'}")
    rows = [{"measure": i.instrument, "status": i.kind if i.state == "to do" else f"{i.kind}, {i.state}",
             "why": i.why, "note": i.note} for i in report.items]
    emit(rows, as_json=False, table_format=table_format, columns=["measure", "status", "why", "note"])
    for name in report.unavailable:
        click.secho(f"{name} is unavailable: no installed plugin registers it (see: ipt plugins).", fg="yellow", err=True)
    if report.to_give:
        click.echo(f"Give them: ipt administer {client_id} --due")


@click.command()
@click.argument("client_id")
@output_options
@db_option
def audit(client_id, as_json, table_format, db_path):
    """Every change to a client's record, and every export and report of it: who, when, what, old and new
    value, why. "actor" is the operating-system login; "declared_actor" any name given with --by or $IPT_USER.

    \b
    Example:
      ipt audit c001
    """
    from .. import record

    with open_store(db_path) as store:
        rows = record.audit(store, client_id)
    emit(rows, as_json=as_json, table_format=table_format,
         columns=["at", "actor", "declared_actor", "action", "entity", "entity_id", "field", "old_value", "new_value", "reason"])


@click.command()
@click.argument("client_id")
@click.argument("instrument_id", required=False)
@click.option("--session", "session_number", type=int, default=None, help="The session the measure was given in.")
@click.option("--administration", "administration_id", type=int, default=None, help="Or the administration id.")
@click.option("--item", "item_id", required=True, help="The item to correct (its id, e.g. 9).")
@click.option("--value", type=int, default=None, help="The corrected answer value.")
@click.option("--skipped", "mark", flag_value="skipped", default=None, help="Mark the item skipped instead.")
@click.option("--declined", "mark", flag_value="declined", help="Mark the item declined instead.")
@click.option("--reason", required=True, help="Why it is corrected (kept in the audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_by_option
@db_option
def amend(client_id, instrument_id, session_number, administration_id, item_id, value, mark, reason, as_json, actor,
          db_path):
    """Correct one answer of a completed measure; the score is recomputed and both are kept in the audit trail.

    \b
    Example:
      ipt amend c001 phq9 --session 5 --item 1 --value 0 --reason "client misread the item"
      ipt audit c001
    """
    from .. import record
    from ..errors import UsageError

    if mark and value is not None:
        raise UsageError("give --value, or --skipped/--declined, not both")
    with open_store(db_path) as store:
        result = record.amend_response(
            store, client_id, item_id, value, reason, status=mark or "answered", instrument_id=instrument_id,
            session_number=session_number, administration_id=administration_id, actor=actor,
        )
    if as_json:
        print_json(result.as_dict())
        return
    click.echo(f"Amended item {item_id}; the old answer and score are kept (ipt audit {client_id}).")
    _print_result(result)
