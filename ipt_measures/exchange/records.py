"""The checks every reader applies to a record before it may be stored, and the record they yield.

A record is the dict ``store.bulk_import`` takes::

    {"client_id": "c001", "display_name": None, "birth_year": None,
     "course": {"start_date": "2026-01-05", "planned_sessions": 16, "problem_areas": ["grief"],
                "protocol": "ipt-default"},
     "session": {"number": 1, "date": "2026-01-05", "phase": "initial"},
     "administration": {"instrument_id": "phq9", "instrument_version": "1", "respondent": "self-report",
                        "source": "import", "started_at": ..., "finished_at": ..., "import_key": "..."},
     "responses": [("1", 2, "answered"), ("2", None, "skipped"), ...],
     "score": Score.model_dump(mode="json"), "alerts": [alert dicts from assess()]}

Nothing is trusted as given: every field is parsed and range-checked here, in the check pass, so the
storing pass cannot fail on a value (a session number of ``1e19``, a date in year 0).
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError
from ..store.sqlite import PHASES, PROBLEM_AREAS

STATUSES = ("answered", "skipped", "declined")
RESPONDENTS = ("self-report", "clinician-rated")


def registry():
    from ..plugins import get_registry

    return get_registry()


def iso_date(value: str, what: str) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except (ValueError, AttributeError):
        raise ValueError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def iso_datetime(value: str, what: str) -> str:
    text = value.strip()
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO date-time") from None
    return text


def whole_number(value: Any, what: str) -> int:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a whole number") from None
    if not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a whole number")
    return int(number)


def number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def check_client_id(client_id: str) -> str:
    if not client_id or len(client_id) > 64 or any(c.isspace() for c in client_id):
        raise ValueError(f"client id {client_id!r} is not 1-64 characters without spaces")
    return client_id


def check_course(planned: Any, areas: list[str]) -> tuple[int, list[str]]:
    planned_n = whole_number(planned, "planned_sessions")
    if not 12 <= planned_n <= 16:
        raise ValueError(f"planned_sessions {planned_n} is outside 12-16 (an IPT course)")
    if not areas:
        raise ValueError("no problem area (one or more of: " + ", ".join(PROBLEM_AREAS) + ")")
    bad = [a for a in areas if a not in PROBLEM_AREAS]
    if bad:
        raise ValueError(f"unknown problem area {bad[0]!r} (one of: {', '.join(PROBLEM_AREAS)})")
    return planned_n, areas


def check_answer(instrument: Any, item_id: str, value: Optional[int], status: str) -> None:
    try:
        item = instrument.item(item_id)
    except KeyError:
        raise ValueError(f"{instrument.id} has no item {item_id!r}") from None
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if (status == "answered") != (value is not None):
        raise ValueError(f"item {item_id}: an answered item needs a value; a {status} item has none"
                         if status != "answered" else f"item {item_id}: answered but no value")
    if value is not None:
        allowed = sorted(o.value for o in instrument.options_for(item))
        if value not in allowed:
            raise ValueError(f"{instrument.id} item {item_id}: {value} is not an allowed answer "
                             f"(allowed: {', '.join(map(str, allowed))})")


def rescore(instrument: Any, responses: list[tuple[str, Optional[int], str]],
            stated_total: Optional[float]) -> tuple[dict, list[dict]]:
    """Score the answers and raise their alerts (``assess``); a stated total that disagrees is an error, never
    overwritten. Returns (score as JSON, alerts): an imported critical item is an open alert like any other."""
    from ..assess import assess

    answers = {item_id: value for item_id, value, _ in responses}
    assessment = assess(instrument, answers, registry=registry())
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
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def instrument_for(instrument_id: str, version: Optional[str]):
    instruments = registry().instruments
    instrument = instruments.get(instrument_id)
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

