"""Record services: the library API behind ``ipt clients/course/session/administer/due/audit/amend``.

Everything the in-session command line does is callable from here with a store (``store.open_store()``)
and, where instruments are needed, the plugin registry (default: the process-wide one). The store is used
only through its public methods, so another engine can stand in for SQLite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date as _date
from typing import Any, Optional, Sequence

from . import domain
from .administer import Administration
from .errors import InvalidAnswers, NotFound, UsageError
from .protocols import DueReport, derive_phase, due_at
from .scoring import MISSING_MARKS

DEFAULT_PROTOCOL = "ipt-default"


def _registry(registry=None):
    if registry is not None:
        return registry
    from .plugins import get_registry

    return get_registry()


def _today() -> str:
    return _date.today().isoformat()


# Characters a display name may not hold: controls (they move a terminal's cursor or end a CSV row),
# bidirectional overrides and isolates (they reorder what is shown, "Trojan Source", CVE-2021-42574) and
# line/paragraph separators. Any other printable text, in any script (with its joiners), is a name.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _check_display_name(name: Optional[str]) -> Optional[str]:
    if name is None:
        return None
    import unicodedata

    name = unicodedata.normalize("NFC", name).strip()
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            raise UsageError(f"a display name cannot contain {domain.describe_char(ch)} (a control character)")
    return name or None


# -- clients and courses ------------------------------------------------------------------------------


def add_client(store, client_id: str, display_name: Optional[str] = None, birth_year: Optional[int] = None) -> dict:
    """Add a client by pseudonymous id; a display name and birth year are optional and never required."""
    if birth_year is not None and not domain.EARLIEST_DATE.year <= birth_year <= _date.today().year:
        raise UsageError(f"birth year {birth_year} is not plausible")
    return store.add_client(domain.check_client_id(client_id), _check_display_name(display_name), birth_year)


def list_clients(store) -> list[dict]:
    """Clients with their active course, sessions held and last session date."""
    rows = []
    for client in store.list_clients():
        course = store.active_course(client["id"])
        sessions = store.sessions(course["id"]) if course else []
        rows.append({
            "id": client["id"],
            "display_name": client["display_name"],
            "birth_year": client["birth_year"],
            "clinician": client.get("clinician"),
            "course": course["id"] if course else None,
            "problem_areas": course["problem_areas"] if course else [],
            "sessions": f"{len(sessions)}/{course['planned_sessions']}" if course else "",
            "last_session": sessions[-1]["date"] if sessions else None,
        })
    return rows


def start_course(
    store,
    client_id: str,
    problem_areas: Sequence[str],
    planned_sessions: Optional[int] = None,
    start_date: Optional[str] = None,
    protocol: Optional[str] = DEFAULT_PROTOCOL,
    registry=None,
    course_type: Optional[str] = None,
    clinician: Optional[str] = None,
) -> dict:
    """Start an IPT course with its type, length, problem area(s), measurement protocol and clinician
    (default: whoever starts it: the server's role on PostgreSQL, the login on SQLite).

    ``course_type`` is one of :data:`ipt_measures.domain.COURSE_TYPES` (standard 12-16 weekly, the default;
    brief 8; maintenance 6-36 monthly). Without a type, 8 planned sessions mean brief IPT; without a length,
    the type's default length (16 for a standard course)."""
    try:
        kind, planned_sessions = domain.infer_course_type(planned_sessions, course_type)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if protocol:
        protocols = _registry(registry).protocols
        if protocol not in protocols:
            known = ", ".join(sorted(protocols)) or "none registered"
            raise UsageError(f"unknown protocol {protocol!r} (known: {known}; see: ipt plugins)")
    areas = domain.check_problem_areas(problem_areas)
    start = domain.check_course_start(start_date or _today())
    who = None if clinician is None else domain.check_staff_name(clinician)
    return store.start_course(client_id, start, planned_sessions, areas, protocol, kind.id, clinician=who)


NO_SERVER_ROLES = "a SQLite record has no server to enforce roles: the staff list is kept, nothing more"


def add_staff(store, name: str, role: str) -> dict:
    """Add a member of staff (``ipt staff add``): on PostgreSQL their login role in the role's group, which
    only an admin may do; the result's ``note`` says what is left to do, or that SQLite enforces nothing."""
    member = store.add_staff(domain.check_staff_name(name), domain.check_staff_role(role))
    return {**member, "note": member.get("note") or NO_SERVER_ROLES}


def list_staff(store) -> tuple[list[dict], Optional[str]]:
    """The staff, by name (``ipt staff list``), and a note when no server enforces their roles (SQLite)."""
    return store.staff(), (None if getattr(store, "enforces_roles", False) else NO_SERVER_ROLES)


def list_courses(store, client_id: str) -> list[dict]:
    """Every course of a client, oldest first, with the number of sessions held in each."""
    store.get_client(client_id)
    return [{**c, "sessions_held": len(store.sessions(c["id"]))} for c in store.courses(client_id)]


def active_course(store, client_id: str) -> dict:
    course = store.active_course(client_id)
    if course is None:
        raise UsageError(
            f"client {client_id!r} has no active course; start one: "
            f"ipt course start {client_id} --problem-area grief --sessions 16"
        )
    return course


def end_course(store, client_id: str, reason: str, end_date: Optional[str] = None) -> dict:
    if not reason or not reason.strip():
        raise UsageError("ending a course needs a reason (e.g. 'completed', 'dropped out', 'referred on')")
    course = active_course(store, client_id)
    return store.end_course(course["id"], domain.check_course_end(end_date or _today(), course["start_date"]), reason)


# -- sessions ------------------------------------------------------------------------------------------


def start_session(store, client_id: str, date: Optional[str] = None, phase: Optional[str] = None) -> dict:
    """Start the next session of the client's active course; the phase is derived unless given."""
    course = active_course(store, client_id)
    existing = store.sessions(course["id"])
    number = (existing[-1]["number"] + 1) if existing else 1
    when = domain.check_session_date(date or _today(), course["start_date"])
    if phase is not None:
        domain.check_phase(phase)
    if existing and when < existing[-1]["date"]:
        raise UsageError(f"session {number} cannot be dated {when}, before session {existing[-1]['number']} ({existing[-1]['date']})")
    phase = phase or derive_phase(number, course["planned_sessions"], course.get("course_type"))
    return store.add_session(course["id"], number, when, phase)


def session_date_concerns(store, client_id: str, date: Optional[str] = None) -> list[str]:
    """What is unusual about starting the next session on ``date`` (default today): a second session on the
    day of the last one is usually a slip, worth asking about first. (A date still to come is refused
    outright by the date check, before anything is asked.)"""
    course = active_course(store, client_id)
    existing = store.sessions(course["id"])
    when = domain.check_session_date(date or _today(), course["start_date"])
    concerns = []
    if existing and existing[-1]["date"] == when:
        concerns.append(f"session {existing[-1]['number']} was already held on {when}")
    return concerns


def get_session(store, client_id: str, number: Optional[int] = None) -> dict:
    """Session ``number`` of the active course, or its latest session."""
    course = active_course(store, client_id)
    sessions = store.sessions(course["id"])
    if not sessions:
        raise UsageError(f"no session started for {client_id!r}; start one: ipt session start {client_id}")
    if number is None:
        return sessions[-1]
    for s in sessions:
        if s["number"] == number:
            return s
    raise NotFound(f"client {client_id!r} has no session {number} in this course (sessions 1-{sessions[-1]['number']})")


def list_sessions(store, client_id: str) -> list[dict]:
    course = active_course(store, client_id)
    admins = store.administrations(course["id"])
    rows = []
    for s in store.sessions(course["id"]):
        given = [a for a in admins if a["session_id"] == s["id"]]
        rows.append({**s, "measures": [
            f"{a['instrument_id']} {_fmt(a['total'], a['score_data'])}" if a["status"] == "complete"
            else f"{a['instrument_id']} ({a['status']})"
            for a in given
        ]})
    return rows


def amend_session(store, client_id: str, number: int, reason: str, *, date: Optional[str] = None,
                  phase: Optional[str] = None, actor: Optional[str] = None) -> dict:
    """Correct a session's date or phase: an amendment with who (``actor``, default $IPT_USER, else the
    login name), when, why, old and new."""
    if date is None and phase is None:
        raise UsageError("give --date or --phase to amend")
    session = get_session(store, client_id, number)
    if date is not None:
        course = active_course(store, client_id)
        session = store.amend_session(session["id"], "date", domain.check_session_date(date, course["start_date"]),
                                      reason, actor=actor)
    if phase is not None:
        domain.check_phase(phase)
        session = store.amend_session(session["id"], "phase", phase, reason, actor=actor)
    return session


# -- administrations -----------------------------------------------------------------------------------


@dataclass
class Result:
    """A completed (or amended) administration: its score, the alerts raised, and change from baseline."""

    administration: dict
    instrument: Any
    score: Any
    alerts: list[dict] = field(default_factory=list)
    baseline: Optional[dict] = None  # {"session": n, "total": x, "administration": id}
    change: Optional[dict] = None  # PairChange as a dict, or {"change": delta}
    previous_total: Optional[float] = None  # for amendments: the total before

    def as_dict(self) -> dict:
        return {
            "administration": self.administration["id"],
            "client": self.administration.get("client_id"),
            "session": self.administration.get("session_number"),
            "instrument": self.instrument.id,
            "score": self.score.model_dump(mode="json"),
            "alerts": self.alerts,
            "baseline": self.baseline,
            "change": self.change,
            **({"previous_total": self.previous_total} if self.previous_total is not None else {}),
        }


def begin(store, client_id: str, instrument_id: str, session_number: Optional[int] = None, registry=None,
          source: str = "interactive") -> Administration:
    """Start a new administration of an instrument in a session (the latest unless a number is given)."""
    from .ipt_record import personalise

    instrument = _registry(registry).instrument(instrument_id)
    session = get_session(store, client_id, session_number)
    asked = personalise(store, instrument, session["course_id"])
    admin_id = store.start_administration(session["id"], instrument.id, instrument.version, instrument.respondent, source)
    return Administration(store, asked, admin_id)


def unfinished(store, client_id: str, instrument_id: Optional[str] = None) -> list[dict]:
    """Interrupted administrations of a client (oldest first), with how far each got."""
    rows = []
    for a in store.in_progress(client_id):
        if instrument_id and a["instrument_id"] != instrument_id:
            continue
        a["answered"] = len(store.responses(a["id"]))
        rows.append(a)
    return rows


def resume(store, administration_id: int, registry=None) -> Administration:
    """An engine on an interrupted administration, at its first unanswered item."""
    record = store.get_administration(administration_id)
    if record["status"] != "in-progress":
        raise UsageError(f"administration {administration_id} is {record['status']}, not in progress")
    instrument = _registry(registry).instrument(record["instrument_id"])
    if instrument.version != record["instrument_version"]:
        raise UsageError(
            f"administration {administration_id} was started with {instrument.id} version "
            f"{record['instrument_version']}, now {instrument.version}; abandon it and start again"
        )
    from .ipt_record import personalise

    return Administration(store, personalise(store, instrument, record["course_id"]), administration_id)


def abandon(store, administration_id: int, reason: str = "", client_id: Optional[str] = None) -> dict:
    """Mark an interrupted administration abandoned (kept, never deleted; not scored). Returns it as it was.

    With ``client_id``, an administration of another client is refused."""
    admin = store.get_administration(administration_id)
    if client_id is not None and admin["client_id"] != client_id:
        raise UsageError(f"administration {administration_id} is not {client_id!r}'s")
    store.abandon_administration(administration_id, reason)
    return admin


def complete(store, engine: Administration, registry=None) -> Result:
    """Complete a finished administration: inside one store transaction, check it is still in progress,
    re-read its answers from the store, score those (``assess``) and store the score and its alerts."""
    if not engine.finished:
        total = len(engine.items)
        raise UsageError(f"administration {engine.id} is not finished ({engine.answered_count} of {total} items)")
    registry = _registry(registry)
    evaluate, found = _evaluator(store, registry, engine.instrument, once=True)
    admin = store.complete_administration(engine.id, evaluate)
    return _mid_course(store, registry, _result(engine.instrument, admin, *found))


def _mid_course(store, registry, result: Result) -> Result:
    """Judge the course's mid-course review once this score is stored (:func:`ipt_record.mid_course_review`);
    an alert it raises joins the result's alerts, so the clinician sees it with the score."""
    from .ipt_record import mid_course_review

    alert_id = mid_course_review(store, result.administration["course_id"], registry)
    if alert_id is not None:
        result.alerts = [*result.alerts, store.get_alert(alert_id)]
    return result


def _evaluator(store, registry, instrument, *, once: bool = False, amended_item: Optional[str] = None):
    """The scoring the store runs inside its transaction: the stored answers -> (score, alerts).

    ``once``: alerts already raised on this administration (even if acknowledged since, e.g. a critical
    answer raised and dealt with mid-administration) are not raised again. ``amended_item``: an amendment
    raises the item alerts (critical answer, risk item unanswered) of the amended item only, as a new
    answer; the other alerts of the new score only if never raised on this administration before.
    """
    from .assess import ITEM_KINDS, assess

    found: list = []

    def evaluate(admin: dict, responses: dict) -> tuple[dict, list[dict]]:
        missing = [i.id for i in instrument.items if i.id not in responses and not i.optional]
        if missing:
            raise UsageError(f"administration {admin['id']} has no answer for item(s) {', '.join(missing)}")
        answers = {i.id: (responses.get(i.id) or {}).get("value") for i in instrument.items}
        previous = _previous_scores(store, admin)
        assessment = assess(instrument, answers, [s for _, s in previous], registry)
        found[:] = [assessment, previous]
        alerts = []
        for alert in assessment.alerts:
            if amended_item is not None and alert["kind"] in ITEM_KINDS:
                if alert.get("item_id") == amended_item:
                    alerts.append(alert)
            else:
                alerts.append({**alert, "once": once or amended_item is not None})
        return assessment.score.model_dump(mode="json"), alerts

    return evaluate, found


def _result(instrument, admin: dict, assessment, previous, previous_total=None) -> Result:
    result = Result(admin, instrument, assessment.score, assessment.alerts, previous_total=previous_total)
    if previous:
        (b_admin, b_score) = previous[0]
        result.baseline = {"session": b_admin["session_number"], "total": b_score.total.value, "administration": b_admin["id"]}
        result.change = assessment.change
    return result


def _previous_scores(store, admin: dict) -> list[tuple[dict, Any]]:
    """Earlier completed, scored administrations of the same instrument in the same course, oldest first."""
    from .plain import Score

    out = []
    for a in store.administrations(admin["course_id"], status="complete"):
        if a["instrument_id"] != admin["instrument_id"] or a["id"] == admin["id"] or not a["score_data"]:
            continue
        if (a["session_number"], a["id"]) > (admin["session_number"], admin["id"]):
            continue
        out.append((a, Score.model_validate(json.loads(a["score_data"]))))
    return out


def _change(instrument, baseline: Optional[float], current: Optional[float]) -> Optional[dict]:
    from .assess import change_between

    return change_between(instrument, baseline, current)


# -- alerts ----------------------------------------------------------------------------------------------


def list_alerts(store, client_id: Optional[str] = None, include_acknowledged: bool = False) -> list[dict]:
    """Alerts (open ones unless ``include_acknowledged``), most serious first, then oldest."""
    if client_id is not None:
        store.get_client(client_id)  # an unknown client is an error, not "no alerts"
    return store.alerts(client_id, include_acknowledged=include_acknowledged)


def acknowledge_alert(store, alert_id: int, action: str, note: Optional[str] = None,
                      actor: Optional[str] = None) -> dict:
    """Record what was done about an alert: who (the login, with ``actor`` beside it if declared), when,
    the action and a note. The alert is kept (acknowledged, never deleted); the audit trail has it."""
    if not action or not action.strip():
        raise UsageError("say what was done (--action), e.g. --action 'risk assessed, safety plan reviewed'")
    return store.acknowledge_alert(alert_id, action, note if note and note.strip() else None, actor=actor)


def open_critical_alerts(store, client_id: str) -> list[dict]:
    """The client's open critical alerts: what every front end shows until someone acknowledges them."""
    return [a for a in store.alerts(client_id) if a["severity"] == "critical"]


# -- non-interactive entry (paper forms) ------------------------------------------------------------


@dataclass
class Entry:
    """One set of answers to store: instrument, answers in item order or by item id, optional session."""

    instrument: str
    answers: Any
    session: Optional[int] = None
    where: str = ""


def entry_instrument(entry: Entry, registry=None) -> Any:
    """The instrument an entry names (any case); an unknown one is refused naming the entry."""
    try:
        return _registry(registry).instrument(entry.instrument)
    except UsageError as exc:
        raise type(exc)(f"{entry.where}: {exc}" if entry.where else str(exc)) from None


def check_entry(entry: Entry, registry=None, asked: Any = None) -> tuple[Any, dict[str, Optional[int]]]:
    """Validate an entry; returns (instrument, item id -> value). Raises InvalidAnswers naming the entry.

    ``asked`` is the instrument as this client is asked it, where that differs (an individualised one: the
    Goal-Based Outcomes asks only the goals agreed): answers in item order may then follow its items (one
    rating for one goal) or the full instrument's (a rating per goal slot, blank where none was agreed)."""
    from .scoring import answers_from_list, check_answers, parse_answer_list

    registry = _registry(registry)
    prefix = f"{entry.where}: " if entry.where else ""
    instrument = entry_instrument(entry, registry)
    try:
        answers = entry.answers
        if isinstance(answers, str):
            answers = parse_answer_list(answers)
        if isinstance(answers, dict):
            clean = {str(k): _as_value(v) for k, v in answers.items()}
            return instrument, check_answers(instrument, clean)
        if isinstance(answers, (list, tuple)):
            values = [_as_value(v) for v in answers]
            if asked is not None and len(asked.items) != len(instrument.items) and len(values) != len(instrument.items):
                if len(values) != len(asked.items):
                    agreed = len(asked.items)
                    raise InvalidAnswers(
                        f"{instrument.id}: this course has {agreed} goal{'s' if agreed != 1 else ''} agreed, so give "
                        f"{agreed} rating{'s' if agreed != 1 else ''} in goal order, got {len(values)}")
                return instrument, check_answers(instrument, answers_from_list(asked, values))
            return instrument, answers_from_list(instrument, values)
        raise InvalidAnswers("answers must be a list in item order or an object of item id -> value")
    except UsageError as exc:
        raise type(exc)(f"{prefix}{exc}") from None


def _as_value(v: Any) -> Optional[int]:
    if v is None or (isinstance(v, str) and v in MISSING_MARKS):
        return None
    if isinstance(v, bool):
        raise InvalidAnswers(f"{v!r} is not a whole number")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            raise InvalidAnswers(f"{v!r} is not a whole number") from None
    if isinstance(v, int):
        return v
    raise InvalidAnswers(f"{v!r} is not a whole number")


def enter_answers(store, client_id: str, entries: Sequence[Entry], session_number: Optional[int] = None,
                  registry=None, source: str = "answers") -> list[Result]:
    """Store several sets of answers given at once (paper forms): all validated before any is stored.

    Each entry is stored atomically (responses, completion and score together). Should storing fail part-way
    (disk full, say), the error names how many entries were stored; those are complete and scored.
    """
    from .ipt_record import check_personal_answers, personalise

    registry = _registry(registry)
    checked = []
    for entry in entries:
        instrument = entry_instrument(entry, registry)
        session = get_session(store, client_id, entry.session if entry.session is not None else session_number)
        asked = personalise(store, instrument, session["course_id"])
        instrument, answers = check_entry(entry, registry, asked=asked if asked is not instrument else None)
        for a in unfinished(store, client_id, instrument.id):
            if a["session_id"] == session["id"]:
                raise UsageError(
                    f"an unfinished {instrument.id} (administration {a['id']}, {a['answered']} answers) is open in "
                    f"session {session['number']}: resume it (ipt administer {client_id}) or abandon it "
                    f"(ipt administer {client_id} --abandon {a['id']}) first"
                )
        check_personal_answers(store, instrument, session["course_id"], answers)
        checked.append((instrument, answers, session))
    results = []
    for n, (instrument, answers, session) in enumerate(checked):
        responses = [(item_id, value, "answered" if value is not None else "skipped")
                     for item_id, value in answers.items()
                     if value is not None or not instrument.item(item_id).optional]
        evaluate, found = _evaluator(store, registry, instrument)
        try:
            admin_id = store.add_completed_administration(
                session["id"], instrument.id, instrument.version, instrument.respondent, source, responses, evaluate,
            )
        except Exception as exc:
            if n:
                raise type(exc)(f"{exc} (the first {n} of {len(checked)} entries were stored)") from None
            raise
        results.append(_mid_course(store, registry, _result(instrument, store.get_administration(admin_id), *found)))
    return results


def read_entries_file(path: str, default_instrument: Optional[str] = None) -> list[Entry]:
    """Entries from a CSV or JSON file.

    CSV: a header row ``instrument,answers`` (answers like ``1,2,0,...`` quoted, or space-separated), or
    ``instrument`` followed by one column per item id (an empty cell is a missing answer); an optional
    ``session`` column. Without an ``instrument`` column the one instrument named on the command line is used.
    JSON: a list of ``{"instrument": "phq9", "answers": [1, 2, ...] or {"1": 1, ...}, "session": 3}``.
    """
    import csv
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} line {line}: not UTF-8 text (save the forms as a UTF-8 CSV or JSON file)") from None
    if p.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except RecursionError:
            raise UsageError(
                f"{path}: JSON nested too deeply (expected a list of {{instrument, answers}} objects)") from None
        except ValueError as exc:  # a number of more than 4300 digits, say
            raise UsageError(f"{path}: not usable JSON ({exc})") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a list of {{instrument, answers}} objects")
        entries = []
        for n, row in enumerate(data, start=1):
            if not isinstance(row, dict) or "answers" not in row:
                raise UsageError(f"{path} entry {n}: expected an object with 'instrument' and 'answers'")
            instrument = row.get("instrument") or default_instrument
            if not instrument:
                raise UsageError(f"{path} entry {n}: no instrument")
            entries.append(Entry(instrument, row["answers"], _int_or_none(row.get("session"), f"{path} entry {n}"),
                                 f"{path} entry {n}"))
        return entries
    reader = csv.reader(text.splitlines())
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UsageError(f"{path} line {reader.line_num}: not readable as CSV ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise UsageError(f"{path}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    if "instrument" not in header and "answers" not in header and not default_instrument:
        raise UsageError(
            f"{path}: the first line must be a header: instrument,answers (or instrument followed by item ids)"
        )
    entries = []
    for n, row in enumerate(rows[1:], start=2):
        cells = dict(zip(header, [c.strip() for c in row]))
        where = f"{path} line {n}"
        instrument = cells.pop("instrument", None) or default_instrument
        if not instrument:
            raise UsageError(f"{where}: no instrument (add an 'instrument' column or name one on the command line)")
        session = _int_or_none(cells.pop("session", None), where)
        if "answers" in cells:
            answers: Any = cells["answers"]
        else:
            # One column per item id; an empty cell is a missing answer (or an item of another instrument).
            answers = {k: v for k, v in cells.items() if k and v != ""}
        entries.append(Entry(instrument, answers, session, where))
    if not entries:
        raise UsageError(f"{path}: a header but no rows")
    return entries


def _int_or_none(value: Any, where: str) -> Optional[int]:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: session {value!r} is not a number") from None


# -- amendments ----------------------------------------------------------------------------------------


def find_administration(store, client_id: str, instrument_id: Optional[str] = None, session_number: Optional[int] = None,
                        administration_id: Optional[int] = None) -> dict:
    """The one completed administration meant by an instrument and a session (or its id)."""
    if administration_id is not None:
        admin = store.get_administration(administration_id)
        if admin["client_id"] != client_id:
            raise NotFound(f"administration {administration_id} is not {client_id!r}'s")
        return admin
    if instrument_id is None or session_number is None:
        raise UsageError("name the instrument and --session N (or give --administration ID)")
    session = get_session(store, client_id, session_number)
    matches = [a for a in store.administrations(session["course_id"], status="complete")
               if a["session_id"] == session["id"] and a["instrument_id"] == instrument_id]
    if not matches:
        raise NotFound(f"no completed {instrument_id} in session {session_number} of {client_id!r}")
    if len(matches) > 1:
        ids = ", ".join(str(a["id"]) for a in matches)
        raise UsageError(f"{len(matches)} completed {instrument_id} in session {session_number} (ids {ids}); give --administration ID")
    return store.get_administration(matches[0]["id"])


def amend_response(store, client_id: str, item_id: str, value: Optional[int], reason: str, *,
                   status: str = "answered", instrument_id: Optional[str] = None,
                   session_number: Optional[int] = None, administration_id: Optional[int] = None,
                   registry=None, actor: Optional[str] = None) -> Result:
    """Correct one answer of a completed administration; the score is recomputed and both are audited
    (as made by ``actor``, default $IPT_USER, else the login name)."""
    registry = _registry(registry)
    admin = find_administration(store, client_id, instrument_id, session_number, administration_id)
    instrument = registry.instrument(admin["instrument_id"])
    try:
        item = instrument.item(str(item_id))
    except KeyError:
        raise UsageError(f"{instrument.id} has no item {item_id!r} (items {instrument.items[0].id}-{instrument.items[-1].id})") from None
    if status == "answered":
        if value is None:
            raise UsageError("give the corrected value (or mark the item skipped/declined)")
        allowed = [o.value for o in instrument.options_for(item)]
        if value not in allowed:
            from .administer import describe_values

            raise InvalidAnswers(f"{instrument.id} item {item.id}: {value} is not an allowed answer ({describe_values(allowed)})")
    else:
        value = None
    evaluate, found = _evaluator(store, registry, instrument, amended_item=item.id)
    out = store.amend_response(admin["id"], item.id, value, status, reason, evaluate, actor=actor)
    return _result(instrument, store.get_administration(admin["id"]), *found, previous_total=out["previous_total"])


# -- protocols -----------------------------------------------------------------------------------------


def due(store, client_id: str, session_number: Optional[int] = None, registry=None) -> DueReport:
    """What the course's protocol asks for at a session: the latest started one, or the next if none."""
    registry = _registry(registry)
    course = active_course(store, client_id)
    sessions = store.sessions(course["id"])
    started = True
    if session_number is None:
        if sessions:
            session_number = sessions[-1]["number"]
        else:
            session_number, started = 1, False
    else:
        started = any(s["number"] == session_number for s in sessions)
    protocol = None
    if course["protocol"]:
        protocol = registry.protocols.get(course["protocol"])
        if protocol is None:
            known = ", ".join(sorted(registry.protocols)) or "none registered"
            raise UsageError(f"the course's protocol {course['protocol']!r} is not registered (known: {known}; see: ipt plugins)")
    given: dict[str, list[int]] = {}
    running: list[str] = []
    for a in store.administrations(course["id"]):
        if a["status"] == "complete":
            given.setdefault(a["instrument_id"], []).append(a["session_number"])
        elif a["status"] == "in-progress" and a["session_number"] == session_number:
            running.append(a["instrument_id"])
    report = due_at(protocol, planned=course["planned_sessions"], problem_areas=course["problem_areas"],
                    session=session_number, given=given, in_progress=running,
                    available=registry.instruments.keys(), started=started, course_type=course.get("course_type"))
    stored = next((s for s in sessions if s["number"] == session_number), None)
    if stored:
        report.phase = stored["phase"]
    from .ipt_record import needs_setting_up

    for item in report.items:
        instrument = registry.instruments.get(item.instrument)
        why = needs_setting_up(store, instrument, course["id"]) if instrument is not None else None
        if why and item.state == "to do":
            item.state = "not set up"
            item.note = (item.note + "; " if item.note else "") + why.replace("CLIENT", client_id)
    return report


# -- summaries -----------------------------------------------------------------------------------------


def client_summary(store, client_id: str, registry=None) -> dict:
    """One screen about a client: the course, each measure's first and latest score, flags, what is due."""
    registry = _registry(registry)
    client = store.get_client(client_id)
    course = store.active_course(client_id)
    ended = None
    if course is None:
        courses = store.courses(client_id)
        course = courses[-1] if courses else None
        ended = course
    summary: dict[str, Any] = {"client": client, "course": course, "sessions": [], "measures": [],
                               "critical": [], "unfinished": [], "due": None,
                               "open_alerts": store.alerts(client_id)}
    if course is None:
        return summary
    sessions = store.sessions(course["id"])
    summary["sessions"] = sessions
    admins = store.administrations(course["id"])
    by_instrument: dict[str, list[dict]] = {}
    for a in admins:
        if a["status"] == "complete":
            by_instrument.setdefault(a["instrument_id"], []).append(a)
            data = json.loads(a["score_data"]) if a["score_data"] else {"flags": []}
            for f in data.get("flags", []):
                summary["critical"].append({"session": a["session_number"], "date": a["session_date"],
                                            "instrument": a["instrument_id"], **f})
    for instrument_id, rows in by_instrument.items():
        first, last = rows[0], rows[-1]
        inst = registry.instruments.get(instrument_id)
        change = _change(inst, first["total"], last["total"]) if inst and len(rows) > 1 else None
        summary["measures"].append({
            "instrument": instrument_id,
            "times": len(rows),
            "first_session": first["session_number"], "first": first["total"],
            "latest_session": last["session_number"], "latest": last["total"], "band": last["band"],
            "change": None if change is None else change.get("change"),
            "category": None if change is None else change.get("category"),
        })
    summary["unfinished"] = unfinished(store, client_id) if not ended else []
    if not ended and course.get("protocol"):
        try:
            summary["due"] = due(store, client_id, registry=registry).as_dict()
        except UsageError as exc:
            summary["due"] = {"error": str(exc)}
    return summary


def audit(store, client_id: str) -> list[dict]:
    """Every change to the client's record, oldest first."""
    return store.audit_trail(client_id)


def _fmt(value: Optional[float], score_data: Optional[str] = None) -> str:
    """A stored total as the clinician reads it, to the decimals its scale is reported to."""
    from .plain import format_score

    decimals = (json.loads(score_data)["total"].get("decimals") or 0) if score_data else 0
    return format_score(value, decimals)
