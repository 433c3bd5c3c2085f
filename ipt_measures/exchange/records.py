"""The checks every reader applies to a record before it may be stored, and the record they yield.

A reader yields records in the shape ``store.bulk_import`` takes, without the score (the import computes
it) and with two keys of its own::

    {"where": "lines 2-11",                  # where in the file, for messages (optional)
     "stated_total": 14.0,                    # a total the file states, checked against ours (optional)
     "client_id": "c001", "display_name": None, "birth_year": None,
     "course": {"start_date": "2026-01-05", "planned_sessions": 16, "problem_areas": ["grief"],
                "protocol": "ipt-default", "course_type": "standard"},
     "session": {"number": 1, "date": "2026-01-05", "phase": "initial"},
     "administration": {"instrument_id": "phq9", "instrument_version": "1", "respondent": "self-report",
                        "source": "import", "started_at": ..., "finished_at": ..., "import_key": "..."},
     "responses": [("1", 2, "answered"), ("2", None, "skipped"), ...]}

The import adds ``"score"`` (``Score.model_dump(mode="json")``) and ``"alerts"`` (dicts from ``assess()``:
an imported critical item is an open alert like any other) before it stores the record.

A response from another system may not know our course and session: its ``course`` is None and its
``session`` holds only the date it was answered; the import files it into a stored course (see
:mod:`.importing`). Nothing is trusted as given: :func:`check_record` parses and range-checks every field
in the check pass, so the storing pass cannot fail on a value (a session number of ``1e19``, a date in
year 0), whichever reader (built-in or a plugin's) produced the record.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError
from .. import domain
from ..domain import PHASES

STATUSES = ("answered", "skipped", "declined")
RESPONDENTS = ("self-report", "clinician-rated")
# A course is planned for 12-16 sessions (store: CHECK planned_sessions BETWEEN 12 AND 16); numbers beyond
# allow extra and booster sessions, and anything above this is a typo or a hostile file, not a session.
SESSION_MAX = 99
EARLIEST = domain.EARLIEST_DATE  # no IPT course, session or answer is older (IPT was described in 1984)
TEXT_MAX = 200  # display names, import keys, instrument versions: longer is not a value we store


_plugins: Any = None


def registry():
    global _plugins
    if _plugins is None:  # imported on first use: this module loads with the exchange plugin, for `ipt --help` too
        from .. import plugins as _plugins
    return _plugins._registry or _plugins.get_registry()


# Values already parsed and found good, remembered (a few thousand of each) because an import meets the same
# dates, courses and clients again and again: a session's administrations share its date and time, a course's
# sessions its fields. A date found good stays good (its range ends today, and today only moves on); a value
# found bad is not remembered, and is refused with its message each time.
REMEMBERED = 4096
_DAYS: dict[str, str] = {}
_MOMENTS: dict[str, str] = {}
_COURSES: dict[tuple, dict] = {}


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= REMEMBERED:
        cache.clear()
    cache[key] = value


def iso_date(value: str, what: str) -> str:
    """A date written YYYY-MM-DD (or a date-time, whose date part is taken), normalised to YYYY-MM-DD."""
    found = _DAYS.get(value) if type(value) is str else None
    if found is not None:
        return found
    try:
        text = value.strip()
        day = date.fromisoformat(text[:10] if len(text) > 10 and text[10] == "T" else text)
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= date.today():
        raise ValueError(f"{what} {day.isoformat()} is {'before 1900' if day < EARLIEST else 'in the future'}")
    _remember(_DAYS, value, day.isoformat())
    return day.isoformat()


def iso_datetime(value: str, what: str) -> str:
    found = _MOMENTS.get(value) if type(value) is str else None
    if found is not None:
        return found
    try:
        text = value.strip()
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{what} {value!r} is not an ISO date-time") from None
    if moment.year < EARLIEST.year:
        raise ValueError(f"{what} {value!r} is before 1900")
    _remember(_MOMENTS, value, text)
    return text


def whole_number(value: Any, what: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """A whole number written as ``3``, ``3.0`` or ``3e0``; with bounds, one inside them (never an overflow later)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a whole number")
    try:
        number = float(str(value).strip())
    except (ValueError, OverflowError):
        raise ValueError(f"{what} {value!r} is not a whole number") from None
    if not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a whole number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{what} {value!r} is outside {low}-{high}")
    return int(number)


def number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def check_client_id(client_id: Any) -> str:
    """The NFC form of a client id from the safe alphabet (domain.check_client_id)."""
    if not isinstance(client_id, str):
        raise ValueError(f"client id {client_id!r} is not text")
    return domain.check_client_id(client_id)


def check_course(planned: Any, areas: list[str], course_type: Optional[str] = None) -> tuple[int, list[str], str]:
    """Planned sessions within the course type's range (standard 12-16, brief 8, maintenance 6-36: see
    ``ipt_measures.domain``), known problem areas; returns them with the course type's id."""
    planned_n = whole_number(planned, "planned_sessions", 1, 100)
    if course_type is not None and not isinstance(course_type, str):
        raise ValueError(f"course_type {course_type!r} is not a name")
    kind, planned_n = domain.infer_course_type(planned_n, course_type or None)
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        raise ValueError("problem areas are a list of names")
    return planned_n, domain.check_problem_areas(areas), kind.id


def check_answer(instrument: Any, item_id: str, value: Optional[int], status: str) -> None:
    allowed = allowed_values(instrument).get(item_id)
    if allowed is None:
        raise ValueError(f"{instrument.id} has no item {item_id!r}")
    if status == "answered":
        if value is None:
            raise ValueError(f"item {item_id}: answered but no value")
        if value not in allowed:
            raise ValueError(f"{instrument.id} item {item_id}: {value} is not an allowed answer "
                             f"(allowed: {', '.join(map(str, sorted(allowed)))})")
    elif status in STATUSES:
        if value is not None:
            raise ValueError(f"item {item_id}: an answered item needs a value; a {status} item has none")
    else:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")


_ALLOWED: dict[int, tuple[Any, dict[str, frozenset]]] = {}


def allowed_values(instrument: Any) -> dict[str, frozenset]:
    """Item id -> the values it accepts, worked out once per instrument (an import checks millions of answers)."""
    cached = _ALLOWED.get(id(instrument))
    if cached is None or cached[0] is not instrument:
        table = {item.id: frozenset(o.value for o in instrument.options_for(item)) for item in instrument.items}
        cached = _ALLOWED[id(instrument)] = (instrument, table)
    return cached[1]


_POSITIONS: dict[int, tuple[Any, dict[str, int]]] = {}


def item_positions(instrument: Any) -> dict[str, int]:
    """Item id -> its place in the instrument's item order, worked out once per instrument."""
    cached = _POSITIONS.get(id(instrument))
    if cached is None or cached[0] is not instrument:
        cached = _POSITIONS[id(instrument)] = (instrument, {item.id: n for n, item in enumerate(instrument.items)})
    return cached[1]


_assess: Any = None
_CONTEXTS: dict[tuple, tuple] = {}


def check_context(record: dict) -> tuple:
    """The client, course and session fields of a record, parsed and range-checked (see :func:`check_record`).

    Remembered for the last few thousand distinct contexts: a session's administrations share one, and a
    reader that checks a context to name its line has it checked again by the import for free.
    """
    course, session = record.get("course"), record.get("session")
    try:
        key = (id(registry()), record.get("client_id"), record.get("display_name"), record.get("birth_year"),
               None if course is None else tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in course.items()),
               None if session is None else tuple(session.items()))
        hash(key)
    except TypeError:  # a field of an unhashable type: checked (and refused) the long way
        return _check_context(record)
    found = _CONTEXTS.get(key)
    if found is None:
        found = _check_context(record)
        if len(_CONTEXTS) > 4096:
            _CONTEXTS.clear()
        _CONTEXTS[key] = found
    client_id, display_name, year, course, session = found
    return client_id, display_name, year, None if course is None else dict(course), dict(session)


def _check_context(record: dict) -> tuple:
    client_id, display_name, year, course = check_client_and_course(record)
    return client_id, display_name, year, course, check_session(record.get("session"), course)


def check_client_and_course(record: dict) -> tuple:
    """A record's client id, display name, birth year and course (None if it has none), parsed and range-checked:
    the first part of :func:`check_context`, for a reader that remembers it across a course's sessions."""
    client_id = check_client_id(record.get("client_id"))
    display_name = record.get("display_name")
    if display_name is not None and (not isinstance(display_name, str) or len(display_name) > TEXT_MAX):
        raise ValueError(f"display_name is not text of up to {TEXT_MAX} characters")
    year = record.get("birth_year")
    if year is not None:
        year = whole_number(year, "birth_year", 1900, date.today().year)
    given = record.get("course")
    return client_id, display_name, year, None if given is None else _course_fields(given)


def check_session(given: Optional[dict], course: Optional[dict]) -> dict:
    """A record's session fields, parsed and range-checked against its course (checked first): the second part of
    :func:`check_context`."""
    session = dict(given or {})
    if session.get("number") is not None:
        session["number"] = whole_number(session["number"], "session", 1, SESSION_MAX)
    if session.get("date") is not None:
        session["date"] = iso_date(session["date"], "session_date")
        if course is not None and session["date"] < course["start_date"]:
            raise ValueError(f"session_date {session['date']} is before course_start {course['start_date']}")
    if session.get("phase") is not None and session["phase"] not in PHASES:
        raise ValueError(f"phase {session['phase']!r} is not one of {', '.join(PHASES)}")
    if course is not None and (session.get("number") is None or session.get("date") is None or not session.get("phase")):
        raise ValueError("a course's session needs its number, date and phase")
    return session


def _course_fields(given: dict) -> dict:
    """A record's course, parsed and range-checked; remembered by its fields (a course has many sessions)."""
    try:
        key: Any = (id(registry()), *((k, tuple(v) if isinstance(v, list) else v) for k, v in given.items()))
        found = _COURSES.get(key)
    except (TypeError, AttributeError):  # not a dict, or a field of an unhashable type: checked the long way
        key, found = None, None
    if found is None:
        found = _check_course_fields(given)
        if key is not None:
            _remember(_COURSES, key, found)
    return dict(found)


def _check_course_fields(given: dict) -> dict:
    start = iso_date(given.get("start_date"), "course_start")
    planned, areas, kind = check_course(given.get("planned_sessions"), given.get("problem_areas"),
                                        given.get("course_type"))
    protocol = given.get("protocol") or None
    if protocol is not None:
        protocols = registry().protocols
        if protocol not in protocols:
            raise ValueError(f"protocol {protocol!r} is not registered (registered: {', '.join(sorted(protocols))})")
    course = {"start_date": start, "planned_sessions": planned, "problem_areas": areas, "protocol": protocol,
              "course_type": kind}
    if given.get("end_date"):
        course["end_date"] = iso_date(given["end_date"], "course_end")
        if course["end_date"] < start:
            raise ValueError(f"course_end {course['end_date']} is before course_start {start}")
        course["end_reason"] = _text(given.get("end_reason"), "end_reason", 2000)
    return course


_TIMES = (("started_at", "started at"), ("finished_at", "finished at"))


def check_record(record: dict, checked: bool = False) -> dict:
    """Parse and range-check every field of a record a reader yielded; returns it ready to store, scored.

    Raises ValueError with the first problem. Fields may be given as text (a plugin's reader need not
    convert them); every value that reaches the store is of the stored type and inside its range.
    ``checked``: the built-in readers run :func:`check_context` and :func:`check_answer` themselves as they
    read (so a message names its line) and give the parsed values; they say so here rather than have every
    field checked twice. A plugin's records are always checked.
    """
    if checked:
        client_id, display_name, year = record["client_id"], record.get("display_name"), record.get("birth_year")
        course, session = record.get("course"), dict(record.get("session") or {})
    else:
        client_id, display_name, year, course, session = check_context(record)
    admin = dict(record.get("administration") or {})
    instrument = instrument_for(admin.get("instrument_id"), admin.get("instrument_version") or None)
    admin["instrument_version"] = instrument.version
    respondent = admin.get("respondent") or instrument.respondent
    if respondent not in RESPONDENTS:
        raise ValueError(f"respondent {respondent!r} is not one of {', '.join(RESPONDENTS)}")
    admin["respondent"] = respondent
    admin["source"] = "import"
    for name, what in _TIMES:
        if admin.get(name):
            admin[name] = iso_datetime(admin[name], what)
    key = admin.get("import_key")
    if not isinstance(key, str) or not key or len(key) > TEXT_MAX:
        raise ValueError("the administration has no import key (a reader must give each one a stable key)")
    responses, seen = [], set()
    if checked:
        responses = record["responses"]
    for entry in () if checked else record.get("responses") or []:
        item_id, value, status = entry
        if value is not None and type(value) is not int:
            value = whole_number(value, f"item {item_id}: value")
        check_answer(instrument, str(item_id), value, status)
        if item_id in seen:
            raise ValueError(f"item {item_id} appears twice in the same administration")
        seen.add(item_id)
        responses.append((str(item_id), value, status))
    if not responses:
        raise ValueError("no item responses")
    stated = record.get("stated_total")
    if stated is not None:
        stated = number(str(stated), "total")
    score, alerts = rescore(instrument, responses, stated)
    return {"where": record.get("where"), "client_id": client_id, "display_name": display_name, "birth_year": year,
            "course": course, "session": session, "administration": admin, "responses": responses,
            "score": score, "alerts": alerts}


def _text(value: Any, what: str, limit: int = TEXT_MAX) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what} is not text of up to {limit} characters")
    return value


def rescore(instrument: Any, responses: list[tuple[str, Optional[int], str]],
            stated_total: Optional[float]) -> tuple[dict, list[dict]]:
    """Score the answers and raise their alerts (``assess``); a stated total that disagrees is an error, never
    overwritten. Returns (score as JSON, alerts): an imported critical item is an open alert like any other."""
    global _assess
    if _assess is None:  # imported on first use, as registry() is
        from ..assess import assess as _assess
    # The answers as a list in item order (None where not given), the form assess() scores by position.
    positions = item_positions(instrument)
    answers: Any = [None] * len(positions)
    for item_id, value, _ in responses:
        at = positions.get(item_id)
        if at is None:  # not one of its items: scored (and refused) by item id
            answers = {item_id: value for item_id, value, _ in responses}
            break
        answers[at] = value
    assessment = _assess(instrument, answers, registry=registry())
    score = assessment.score
    if stated_total is not None:
        computed = score.total.value
        if computed is None or not math.isclose(float(computed), stated_total, abs_tol=1e-9):
            shown = "not scorable (too many missing answers)" if computed is None else f"{computed:g}"
            raise ValueError(
                f"stated total {stated_total:g} but the answers score {shown} with {instrument.id} "
                f"version {instrument.version}; not stored"
            )
    return score.model_dump(mode="json"), assessment.alerts


def import_key(kind: str, *parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def instrument_for(instrument_id: Any, version: Optional[str]):
    instruments = registry().instruments
    instrument = instruments.get(instrument_id) if isinstance(instrument_id, str) else None
    if instrument is None:
        raise ValueError(f"unknown instrument {instrument_id!r} (registered: {', '.join(sorted(instruments))})")
    if version and version != instrument.version:
        raise ValueError(f"{instrument_id} version {version!r} is not the registered version {instrument.version!r}; "
                         "its scoring rules may differ")
    return instrument


def first_bad_line(path: Path) -> int:
    """The line holding the first byte that is not UTF-8 (the text reader decodes ahead, in blocks)."""
    line = 1
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line
    return line


def not_utf8(path: Path) -> UsageError:
    return UsageError(f"{path.name} is not UTF-8 text (line {first_bad_line(path)}): import takes a CSV "
                      "or FHIR JSON file saved as UTF-8")

