"""CSV long: written one row per score (total and each subscale), or with ``items`` one row per item
response; and that item layout read for import, with the same column list.

Writing: every cell goes through :func:`~ipt_measures.exchange.cells.cell` (numbers stay numbers; text
cannot start a formula). Each item row carries the administration's stated total, so an import can
rescore the answers and report any disagreement.

Reading: rows are grouped into administrations (consecutive rows with the same client, course, session,
instrument and administration); each group's rows are checked item by item here, and the record as a
whole by the import (``records.check_record``). Memory stays flat however hostile the file: one
administration is held at a time, and no line may be longer than ``LINE_MAX`` characters (a 200 MB file
on one line is refused at its first megabyte, not read whole). Text cells are read back through
:func:`~ipt_measures.exchange.cells.read_cell`, which takes off the writer's formula guard.
"""

from __future__ import annotations

import csv
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Optional

from ..errors import UsageError
from . import Rejection
from .cells import LINE_END, cell, read_cell
from .records import (RESPONDENTS, allowed_values, check_answer, check_context, import_key, instrument_for,
                      iso_datetime, not_utf8, number, whole_number)

BASE = [
    "client_id", "course_start", "planned_sessions", "problem_areas", "protocol", "course_end", "course_type",
    "session", "session_date", "phase",
    "administration", "instrument", "instrument_version", "respondent", "completed_at",
]
IDENTIFIERS = ["display_name", "birth_year"]
SCORE_COLUMNS = ["scale", "score", "band", "band_severity", "answered", "missing", "prorated", "critical_items", "scorer"]
ITEM_COLUMNS = ["item", "value", "status", "total", "band", "critical_items", "scorer"]
LIST_SEPARATOR = ";"


def columns(items: bool, identifiers: bool = False) -> list[str]:
    base = BASE[:1] + IDENTIFIERS + BASE[1:] if identifiers else list(BASE)
    return base + (ITEM_COLUMNS if items else SCORE_COLUMNS)


CRITICAL_ITEM_PREFIX = "item "


def critical_items(score: dict) -> str:
    """The endorsed critical items as text, e.g. ``item 9`` or ``item 9;item 12``: never a bare number, which
    pandas and spreadsheets would read as 9 (or 9.0 in a column with blanks) and lose the list."""
    return LIST_SEPARATOR.join(dict.fromkeys(CRITICAL_ITEM_PREFIX + flag["item"] for flag in score.get("flags", [])))


# The columns an importable long CSV must have: the item layout's columns less those an import can do
# without (it computes a blank total, and takes the instrument's version and respondent when absent; a course
# type, absent from files written before course types, is inferred from the course length).
OPTIONAL_ON_IMPORT = frozenset({"protocol", "course_end", "course_type", "administration", "instrument_version", "respondent",
                                "completed_at", "status", "total", "band", "critical_items", "scorer"})
REQUIRED_COLUMNS = [c for c in columns(items=True) if c not in OPTIONAL_ON_IMPORT]
LINE_MAX = 1 << 20  # characters; a row of the long layout is a few hundred


def _lines(path: Path, update: Optional[Callable[[int], Any]]) -> Iterator[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        readline, number = handle.readline, 0
        while True:
            line = readline(LINE_MAX + 1)
            if not line:
                return
            number += 1
            if len(line) > LINE_MAX:
                raise UsageError(f"{path.name} line {number} is longer than {LINE_MAX:,} characters: "
                                 "not a CSV of item responses")
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


KEY = ("client_id", "course_start", "session", "instrument", "administration")  # one administration's rows
SHARED = ("planned_sessions", "problem_areas", "session_date", "phase", "instrument_version", "respondent",
          "completed_at", "total", "protocol", "display_name", "birth_year", "course_end", "course_type")


def read(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Any]:
    """Yield one record or list of rejections per administration, in file order."""
    path = Path(path)
    reader = csv.reader(_lines(path, update))
    try:
        header = [name.strip() for name in next(reader, None) or []]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _unreadable(path, reader, exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}: import takes the long CSV with one row per "
            "item response (ipt export --format csv-long --items)"
        )
    layout = _Layout(header)
    seen: set[tuple] = set()
    group: Optional[_Group] = None
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _unreadable(path, reader, exc) from None
        if not row:
            continue  # a blank line, as csv.DictReader skips it
        if len(row) < layout.width:
            row += [""] * (layout.width - len(row))
        line = reader.line_num
        group_id = layout.key(row)
        if group is None or group_id != group.id:
            if group is not None:
                yield group.finish()
            group = _Group(group_id, line, layout)
            if group_id in seen:
                group.problems.append(Rejection(
                    f"line {line}", "rows of this administration are not together: an earlier run of rows "
                    "had the same client, course, session, instrument and administration"))
            seen.add(group_id)
        group.add(row, line)
    if group is not None:
        yield group.finish()


class _Layout:
    """Where each column is in this file's rows (only the required columns must be there)."""

    def __init__(self, header: list[str]):
        self.header = header
        self.width = len(header)
        self.index = {}
        for n, name in enumerate(header):
            self.index.setdefault(name, n)
        # The raw cells (C-speed itemgetter): rows of one administration repeat them exactly; the import key
        # itself is made from the parsed values.
        self.key = itemgetter(*[self.index[c] for c in KEY if c in self.index])
        self.shared = [c for c in SHARED if c in self.index]
        self.shared_of = itemgetter(*[self.index[c] for c in self.shared]) if self.shared else (lambda row: ())
        self.item, self.value, self.status = self.index["item"], self.index["value"], self.index.get("status")

    def as_dict(self, row: list[str]) -> dict:
        return {name: read_cell(row[n].strip()) for name, n in self.index.items()}


class _Group:
    """The rows of one administration in a long CSV."""

    def __init__(self, group_id: tuple, first_line: int, layout: _Layout):
        self.id = group_id
        self.layout = layout
        self.first = first_line
        self.last = first_line
        self.head: Optional[dict] = None
        self.head_shared: Any = None
        self.head_line = first_line
        self.instrument: Any = None
        self.context: dict = {}  # the head row's client, course and session fields, checked and parsed once
        self.responses: list[tuple[str, Optional[int], str]] = []
        self.items: set[str] = set()
        self.problems: list[Rejection] = []
        self.context_error = False
        self.allowed: dict = {}

    def add(self, row: list[str], line: int) -> None:
        self.last = line
        layout = self.layout
        if self.head is None:
            self.head, self.head_line = layout.as_dict(row), line
            self.head_shared = layout.shared_of(row)
            try:
                self.instrument = instrument_for(self.head["instrument"], self.head.get("instrument_version") or None)
                self.allowed = allowed_values(self.instrument)
                self.context = self._check_head(self.head)
            except ValueError as exc:
                self.problems.append(Rejection(f"line {line}", str(exc)))
                self.context_error = True
        elif not self.context_error and layout.shared_of(row) != self.head_shared:
            # a bad first row is reported once, not echoed by every row after it
            for name in layout.shared:
                value = row[layout.index[name]].strip()
                if value != self.head[name]:
                    self.problems.append(Rejection(
                        f"line {line}", f"{name} {value!r} differs from line {self.head_line} "
                        f"({self.head[name]!r}) of the same administration"))
                    return
        if self.instrument is None:
            return
        item_id = row[layout.item].strip()
        text = row[layout.value].strip()
        given = row[layout.status].strip() if layout.status is not None else ""
        if text.isdigit() and (given == "answered" or not given):  # the common case, checked inline
            value = int(text)
            if value in self.allowed.get(item_id, ()) and item_id not in self.items:
                self.items.add(item_id)
                self.responses.append((item_id, value, "answered"))
                return
        try:
            value = (int(text) if text.isdigit() else whole_number(text, f"item {item_id}: value")) if text else None
            status = given or ("answered" if value is not None else "skipped")
            check_answer(self.instrument, item_id, value, status)
            if item_id in self.items:
                raise ValueError(f"item {item_id} appears twice in the same administration")
        except ValueError as exc:
            self.problems.append(Rejection(f"line {line}", str(exc)))
            return
        self.items.add(item_id)
        self.responses.append((item_id, value, status))

    def _check_head(self, row: dict) -> dict:
        """The fields every row of the administration repeats, checked here to name their line."""
        course = {"start_date": row["course_start"], "planned_sessions": row["planned_sessions"],
                  "problem_areas": [a for a in row["problem_areas"].split(";") if a],
                  "protocol": row.get("protocol") or None, "end_date": row.get("course_end") or None,
                  "course_type": row.get("course_type") or None}
        session = {"number": row["session"], "date": row["session_date"], "phase": row["phase"]}
        client_id, display_name, birth_year, course, session = check_context({
            "client_id": row["client_id"], "display_name": row.get("display_name") or None,
            "birth_year": row.get("birth_year") or None, "course": course, "session": session})
        if row.get("respondent") and row["respondent"] not in RESPONDENTS:
            raise ValueError(f"respondent {row['respondent']!r} is not one of {', '.join(RESPONDENTS)}")
        if row.get("completed_at"):
            iso_datetime(row["completed_at"], "completed_at")
        if row.get("total"):
            number(row["total"], "total")
        return {
            "client_id": client_id,
            "display_name": display_name,
            "birth_year": birth_year,
            "course": course,
            "session": session,
            # session "1" and "1.0", or a date written two ways, are the same administration: the key is
            # made from the parsed values, so a re-import from a spreadsheet that rewrote them is skipped.
            "key": import_key("csv", client_id, course["start_date"], session["number"], row["instrument"],
                              row.get("administration", "")),
        }

    def where(self) -> str:
        return f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"

    def finish(self) -> Any:
        if self.problems:
            return self.problems
        row, instrument = self.head, self.instrument
        completed = row.get("completed_at") or None
        return {
            "where": self.where(),
            "stated_total": row.get("total") or None,
            "client_id": self.context["client_id"],
            "display_name": self.context["display_name"],
            "birth_year": self.context["birth_year"],
            "course": self.context["course"],
            "session": self.context["session"],
            "administration": {
                "instrument_id": instrument.id,
                "instrument_version": row.get("instrument_version") or instrument.version,
                "respondent": row.get("respondent") or instrument.respondent,
                "source": "import",
                "started_at": completed,
                "finished_at": completed,
                "import_key": self.context["key"],
            },
            "responses": self.responses,
        }


# -- writing ---------------------------------------------------------------------------------------------


def _base_row(record: dict, identifiers: bool) -> list[Any]:
    """The client, course, session and administration cells in ``columns`` order, each through ``cell``:
    shared by every row of a record."""
    client, course, session, admin = record["client"], record["course"], record["session"], record["administration"]
    if not identifiers and "display_name" in client:
        # As csv.DictWriter did: a record with identifiers after a first record without them is refused.
        raise ValueError("dict contains fields not in fieldnames: 'display_name', 'birth_year'")
    row = [client["id"]]
    if identifiers:
        row += [client.get("display_name"), client.get("birth_year")]
    row += [
        course["start_date"],
        course["planned_sessions"],
        LIST_SEPARATOR.join(course["problem_areas"]),
        course.get("protocol"),
        course.get("end_date"),
        course.get("course_type"),
        session["number"],
        session["date"],
        session["phase"],
        admin["id"],
        admin["instrument_id"],
        admin["instrument_version"],
        admin["respondent"],
        admin["finished_at"],
    ]
    return [cell(v) for v in row]


def write(rows: Iterable[dict], out: IO[str], *, items: bool = False, **options: Any) -> None:
    # csv.writer with the cells in ``columns`` order: the same bytes csv.DictWriter wrote, without a dict
    # built and reordered for every row (see the README, Performance).
    writerow = None
    identifiers = False
    for record in rows:
        if writerow is None:  # the header follows the first record (identifiers present or not)
            identifiers = "display_name" in record["client"]
            writer = csv.writer(out, lineterminator=LINE_END)
            writer.writerow(columns(items, identifiers))
            writerow = writer.writerow
        base = _base_row(record, identifiers)
        score = record.get("score") or {}
        total = score.get("total") or {}
        if items:
            responses = record["responses"]
            if responses:
                tail = [cell(total.get("value")), cell(total.get("band")), cell(critical_items(score)),
                        cell(score.get("scorer"))]
                for response in responses:
                    writerow(base + [cell(response["item_id"]), cell(response["value"]), cell(response["status"])]
                             + tail)
        elif total:
            scorer = cell(score.get("scorer"))
            for scale in [total, *score.get("subscales", [])]:
                cells = [
                    scale["id"],
                    scale.get("value"),
                    scale.get("band"),
                    scale.get("band_severity"),
                    scale.get("answered"),
                    scale.get("missing"),
                    scale.get("prorated"),
                    critical_items(score) if scale is total else "",
                ]
                writerow(base + [cell(v) for v in cells] + [scorer])
    if writerow is None:  # an empty export still has its header
        csv.writer(out, lineterminator=LINE_END).writerow(columns(items))
