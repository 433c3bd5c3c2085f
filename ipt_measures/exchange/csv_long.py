"""The long CSV, one row per item response (``ipt export --format csv-long --items``): read for import.

Rows are grouped into administrations (consecutive rows with the same client, course, session, instrument
and administration); each group is checked field by field and rescored. Memory stays flat: one
administration is held at a time.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from ..errors import IptError, UsageError
from . import Rejection
from .records import (PHASES, RESPONDENTS, check_answer, check_client_id, check_course, import_key, instrument_for,
                      iso_date, iso_datetime, not_utf8, number, rescore, whole_number)

# The columns an importable long CSV must have; the rest of the export's columns are optional.
REQUIRED_COLUMNS = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date",
                    "phase", "instrument", "item", "value"]


def _lines(path: Path, update: Optional[Callable[[int], Any]]) -> Iterator[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line in handle:
            if update is not None:
                update(len(line.encode("utf-8")))
            yield line


def _unreadable(path: Path, reader: Any, exc: Exception) -> UsageError:
    """One line for a file the csv module cannot read: not UTF-8, a huge field, a stray NUL..."""
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(path)
    line = getattr(reader, "reader", reader).line_num or 1  # DictReader.line_num lags until a row is returned
    if "field larger than field limit" in str(exc):
        return UsageError(f"{path.name} line {line}: a field is longer than {csv.field_size_limit()} characters; "
                          "this is not an ipt CSV")
    return UsageError(f"{path.name} line {line}: not readable as CSV ({exc})")


def _rows(path: Path, reader: Any) -> Iterator[dict]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _unreadable(path, reader, exc) from None
        yield row


def read(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Any]:
    """Yield one record or list of rejections per administration, in file order."""
    path = Path(path)
    reader = csv.DictReader(_lines(path, update))
    try:
        header = reader.fieldnames or []
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _unreadable(path, reader, exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}: import takes the long CSV with one row per "
            "item response (ipt export --format csv-long --items)"
        )
    seen: set[str] = set()
    group: Optional[_Group] = None
    for row in _rows(path, reader):
        line = reader.line_num
        group_id = "\x1f".join(
            (row.get(c) or "").strip() for c in ("client_id", "course_start", "session", "instrument", "administration")
        )
        if group is None or group_id != group.id:
            if group is not None:
                yield group.finish()
            if group_id in seen:
                group = _Group(group_id, line)
                group.problems.append(Rejection(
                    f"line {line}", "rows of this administration are not together: an earlier run of rows "
                    "had the same client, course, session, instrument and administration"))
            else:
                group = _Group(group_id, line)
            seen.add(group_id)
        group.add(row, line)
    if group is not None:
        yield group.finish()


class _Group:
    """The rows of one administration in a long CSV."""

    SHARED = ("planned_sessions", "problem_areas", "session_date", "phase", "instrument_version", "respondent",
              "completed_at", "total", "protocol", "display_name", "birth_year")

    def __init__(self, group_id: str, first_line: int):
        self.id = group_id
        self.first = first_line
        self.last = first_line
        self.head: Optional[dict] = None
        self.head_line = first_line
        self.instrument: Any = None
        self.context: dict = {}  # the head row's client, course and session fields, checked and parsed once
        self.responses: list[tuple[str, Optional[int], str]] = []
        self.items: set[str] = set()
        self.problems: list[Rejection] = []
        self.context_error = False

    def add(self, row: dict, line: int) -> None:
        self.last = line
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if self.head is None:
            self.head, self.head_line = row, line
            try:
                self.instrument = instrument_for(row["instrument"], row.get("instrument_version") or None)
                self.context = self._check_head(row)
            except ValueError as exc:
                self.problems.append(Rejection(f"line {line}", str(exc)))
                self.context_error = True
        elif not self.context_error:  # a bad first row is reported once, not echoed by every row after it
            for name in self.SHARED:
                if (row.get(name) or "") != (self.head.get(name) or ""):
                    self.problems.append(Rejection(
                        f"line {line}", f"{name} {row.get(name)!r} differs from line {self.head_line} "
                        f"({self.head.get(name)!r}) of the same administration"))
                    return
        if self.instrument is None:
            return
        item_id = row.get("item", "")
        try:
            value = whole_number(row["value"], f"item {item_id}: value") if row.get("value") else None
            status = row.get("status") or ("answered" if value is not None else "skipped")
            check_answer(self.instrument, item_id, value, status)
            if item_id in self.items:
                raise ValueError(f"item {item_id} appears twice in the same administration")
        except ValueError as exc:
            self.problems.append(Rejection(f"line {line}", str(exc)))
            return
        self.items.add(item_id)
        self.responses.append((item_id, value, status))

    def _check_head(self, row: dict) -> dict:
        """Check the fields every row of the administration repeats; returns them parsed for the record."""
        check_client_id(row["client_id"])
        start = iso_date(row["course_start"], "course_start")
        planned, areas = check_course(row["planned_sessions"], [a for a in row["problem_areas"].split(";") if a])
        session = whole_number(row["session"], "session")
        if session < 1:
            raise ValueError("session numbers start at 1")
        iso_date(row["session_date"], "session_date")
        if row["phase"] not in PHASES:
            raise ValueError(f"phase {row['phase']!r} is not one of {', '.join(PHASES)}")
        if row.get("respondent") and row["respondent"] not in RESPONDENTS:
            raise ValueError(f"respondent {row['respondent']!r} is not one of {', '.join(RESPONDENTS)}")
        if row.get("completed_at"):
            iso_datetime(row["completed_at"], "completed_at")
        total = number(row["total"], "total") if row.get("total") else None
        year = None
        if row.get("birth_year"):
            year = whole_number(row["birth_year"], "birth_year")
            if not 1900 <= year <= 2100:
                raise ValueError(f"birth_year {year} is outside 1900-2100")
        return {
            "birth_year": year,
            "course": {"start_date": start, "planned_sessions": planned, "problem_areas": areas,
                       "protocol": row.get("protocol") or None},
            "session": {"number": session, "date": row["session_date"], "phase": row["phase"]},
            "total": total,
        }

    def where(self) -> str:
        return f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"

    def finish(self) -> Any:
        if self.problems:
            return self.problems
        row, instrument = self.head, self.instrument
        if not self.responses:
            return [Rejection(self.where(), "no item responses")]
        context = self.context
        try:
            score, alerts = rescore(instrument, self.responses, context["total"])
        except (ValueError, IptError) as exc:
            return [Rejection(self.where(), str(exc))]
        completed = row.get("completed_at") or None
        return {
            "client_id": row["client_id"],
            "display_name": row.get("display_name") or None,
            "birth_year": context["birth_year"],
            "course": context["course"],
            "session": context["session"],
            "administration": {
                "instrument_id": instrument.id,
                "instrument_version": instrument.version,
                "respondent": row.get("respondent") or instrument.respondent,
                "source": "import",
                "started_at": completed,
                "finished_at": completed,
                "import_key": import_key("csv", *self.id.split("\x1f")),
            },
            "responses": self.responses,
            "score": score,
            "alerts": alerts,
        }
