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
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Optional

from ..errors import UsageError
from . import Rejection
from .cells import LINE_END, cell, read_cell
from .records import (RESPONDENTS, allowed_values, check_answer, check_client_and_course, check_session, import_key,
                      instrument_for, iso_datetime, not_utf8, number, whole_number)

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


def _unreadable(path: Path, line: int, exc: Exception) -> UsageError:
    """One line for a file the csv module cannot read: a huge field, a stray NUL..."""
    if "field larger than field limit" in str(exc):
        return UsageError(f"{path.name} line {line}: a field is longer than {csv.field_size_limit()} characters; "
                          "this is not an ipt CSV")
    return UsageError(f"{path.name} line {line}: not readable as CSV ({exc})")


def _cells(line: str, lines: Iterator[str], plain: int, path: Path, number: int) -> tuple[list[str], int]:
    """The cells of the row that starts with ``line`` (line ``number`` of the file), and how many lines it took.

    A line without a quote or a NUL, no longer than ``plain`` characters, is split at its commas: exactly what
    the csv module reads from it (RFC 4180: an unquoted field holds no comma, quote or line break), at a
    fraction of the cost. Any other line is read by the csv module, which takes the further lines a quoted
    field spans from ``lines`` and refuses a NUL or a field over its size limit.
    """
    if len(line) <= plain and '"' not in line and "\0" not in line:
        text = line.rstrip("\r\n")
        return (text.split(",") if text else []), 1  # a blank line has no cells, as the csv module reads it
    reader = csv.reader(chain((line,), lines))
    try:
        return next(reader, []), reader.line_num
    except csv.Error as exc:
        raise _unreadable(path, number + max(reader.line_num, 1) - 1, exc) from None


KEY = ("client_id", "course_start", "session", "instrument", "administration")  # one administration's rows
SHARED = ("planned_sessions", "problem_areas", "session_date", "phase", "instrument_version", "respondent",
          "completed_at", "total", "protocol", "display_name", "birth_year", "course_end", "course_type")
COURSE = ("client_id", "display_name", "birth_year", "course_start", "planned_sessions", "problem_areas", "protocol",
          "course_end", "course_type")  # the client and course cells
CONTEXT = COURSE + ("session", "session_date", "phase")  # ... and the session's
CACHED = 4096  # distinct contexts and instruments remembered by one read


def read(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Any]:
    """Yield one record or list of rejections per administration, in file order.

    The first row of an administration is read whole, for its client, course, session and instrument (each
    distinct set of those cells checked once per file). A later line that is the first row's text with
    other answer cells (an export's rows are: ``item``, ``value`` and ``status`` are side by side) is
    read only for those cells; so is any row whose key and shared cells are the first row's. The common
    answer (a whole number the item allows, given once) is taken in this loop. Anything else (another
    administration, a shared cell that differs, any other answer) goes the long way, through
    :class:`_Group`, which names the line.
    """
    path = Path(path)
    lines = _lines(path, update)
    plain = min(csv.field_size_limit(), LINE_MAX)  # no field of a line this long can be over the csv limit
    try:
        first = next(lines, None)
        header_cells, number = _cells(first, lines, plain, path, 1) if first is not None else ([], 0)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    header = [name.strip() for name in header_cells]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}: import takes the long CSV with one row per "
            "item response (ipt export --format csv-long --items)"
        )
    layout = _Layout(header)
    heads = _Heads(layout)
    width, head_of, key_of, answer_of, pick, count = (layout.width, layout.head, layout.key, layout.answer,
                                                      layout.pick, layout.count)
    seen: set[tuple] = set()
    group: Optional[_Group] = None
    head: Any = None  # the key and shared cells of the administration being read, as written
    framed, before, after, ends = False, "", "", 0  # the first row's text around its answer cells
    instrument: Any = None
    allowed: dict = {}
    items: set = set()
    responses: list = []
    last = 0
    try:
        for line in lines:
            number += 1
            cells = None
            if framed and line.startswith(before) and line.endswith(after) and len(line) <= plain:
                answer = line[len(before):len(line) - ends]
                if '"' not in answer and "\0" not in answer:
                    cells = answer.split(",")
                    if len(cells) != count:
                        cells = None
            if cells is not None:  # the first row's text but for its answer cells
                item_id, text, given = pick(cells)
            else:
                row, taken = _cells(line, lines, plain, path, number)
                number += taken - 1
                if not row:
                    continue  # a blank line, as csv.DictReader skips it
                if len(row) < width:
                    row += [""] * (width - len(row))
                if head_of(row) != head:
                    group_id = key_of(row)
                    if group is None or group_id != group.id:
                        if group is not None:
                            yield group.finish(last)
                        group = _Group(group_id, number, layout)
                        if group_id in seen:
                            group.problems.append(Rejection(
                                f"line {number}", "rows of this administration are not together: an earlier run of "
                                "rows had the same client, course, session, instrument and administration"))
                        seen.add(group_id)
                        group.start(row, number, heads)
                        head = head_of(row)
                        instrument, allowed, items, responses = (group.instrument, group.allowed, group.items,
                                                                 group.responses)
                        frame = layout.frame(line, row) if taken == 1 else None
                        framed = frame is not None
                        if framed:
                            before, after = frame
                            ends = len(after)
                    elif not group.context_error and group.differs(row, number):
                        last = number  # a bad first row is reported once, not echoed by every row after it
                        continue
                item_id, text, given = answer_of(row)
            last = number
            if instrument is None:
                continue
            if text.isdecimal() and (given == "answered" or not given):  # the common answer, taken here
                value = int(text)
                if value in allowed.get(item_id, ()) and item_id not in items:
                    items.add(item_id)
                    responses.append((item_id, value, "answered"))
                    continue
            group.answer(item_id, text, given, number)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    if group is not None:
        yield group.finish(last)


class _Layout:
    """Where each column is in this file's rows (only the required columns must be there)."""

    def __init__(self, header: list[str]):
        self.header = header
        self.width = len(header)
        self.index: dict[str, int] = {}
        for n, name in enumerate(header):
            self.index.setdefault(name, n)
        # Raw cells at C speed (itemgetter): rows of one administration repeat them exactly; the import key
        # itself is made from the parsed values.
        self.key = itemgetter(*self._at(KEY))
        self.shared = [c for c in SHARED if c in self.index]
        self.head = itemgetter(*self._at(KEY + SHARED))
        self.course = itemgetter(*self._at(COURSE))
        self.context = itemgetter(*self._at(CONTEXT))
        self.named = itemgetter(*self._at(("instrument", "instrument_version")))  # a 1-tuple is the cell itself
        self.item, self.value, self.status = self.index["item"], self.index["value"], self.index.get("status")
        answer = [self.item, self.value] + ([self.status] if self.status is not None else [])
        if self.status is None:
            item, value = self.item, self.value
            self.answer = lambda row: (row[item], row[value], "")
        else:
            self.answer = itemgetter(*answer)
        # The answer cells side by side (as an export writes them): their text alone is read from a line that is
        # its administration's first row but for them. ``pick`` takes item, value and status from those cells.
        self.low, self.count = min(answer), len(answer)
        self.side_by_side = sorted(answer) == list(range(self.low, self.low + self.count))
        at = [n - self.low for n in answer]
        self.pick = itemgetter(*at) if self.status is not None else (lambda cells: (cells[at[0]], cells[at[1]], ""))

    def _at(self, names: tuple) -> list[int]:
        return [self.index[c] for c in names if c in self.index]

    def frame(self, line: str, row: list[str]) -> Optional[tuple[str, str]]:
        """The text of a line split at commas (``_cells``) before and after its answer cells; None if it has none."""
        low, count = self.low, self.count
        if not self.side_by_side or '"' in line or "\0" in line or line.count(",") < low + count - 1:
            return None
        start = sum(map(len, row[:low])) + low
        end = start + sum(map(len, row[low:low + count])) + count - 1
        return line[:start], line[end:]

    def cell(self, row: list[str], name: str) -> str:
        """A cell's text as it was written (the writer's formula guard taken off); "" for a column not in the file."""
        n = self.index.get(name)
        return "" if n is None else read_cell(row[n].strip())


class _Heads:
    """The checks of an administration's first row, done once for each distinct instrument and context in a file
    (a session's administrations share one context: its client, course and session cells)."""

    def __init__(self, layout: _Layout):
        self.layout = layout
        self.instruments: dict[tuple, tuple] = {}
        self.courses: dict[tuple, tuple] = {}  # client and course cells -> checked
        self.contexts: dict[tuple, tuple] = {}  # client, course and session cells -> checked

    def instrument(self, row: list[str]) -> tuple:
        """The registered instrument the row names (in the version it names), the answers each item allows, and
        the instrument and version cells as written."""
        raw = self.layout.named(row)
        found = self.instruments.get(raw)
        if found is None:
            name, version = self.layout.cell(row, "instrument"), self.layout.cell(row, "instrument_version")
            instrument = instrument_for(name, version or None)
            if len(self.instruments) >= CACHED:
                self.instruments.clear()
            found = self.instruments[raw] = (instrument, allowed_values(instrument), name, version)
        return found

    def context(self, row: list[str]) -> tuple:
        """The row's client, course and session, checked (``records.check_context``, in its order) and parsed."""
        raw = self.layout.context(row)
        found = self.contexts.get(raw)
        if found is None:
            client_id, display_name, birth_year, course = self._client_and_course(row)
            cell = self.layout.cell
            session = check_session({"number": cell(row, "session"), "date": cell(row, "session_date"),
                                     "phase": cell(row, "phase")}, course)
            if len(self.contexts) >= CACHED:
                self.contexts.clear()
            found = self.contexts[raw] = (client_id, display_name, birth_year, course, session)
        client_id, display_name, birth_year, course, session = found
        return client_id, display_name, birth_year, dict(course), dict(session)

    def _client_and_course(self, row: list[str]) -> tuple:
        raw = self.layout.course(row)
        found = self.courses.get(raw)
        if found is None:
            cell = self.layout.cell
            course = {"start_date": cell(row, "course_start"), "planned_sessions": cell(row, "planned_sessions"),
                      "problem_areas": [a for a in cell(row, "problem_areas").split(";") if a],
                      "protocol": cell(row, "protocol") or None, "end_date": cell(row, "course_end") or None,
                      "course_type": cell(row, "course_type") or None}
            found = check_client_and_course({
                "client_id": cell(row, "client_id"), "display_name": cell(row, "display_name") or None,
                "birth_year": cell(row, "birth_year") or None, "course": course})
            if len(self.courses) >= CACHED:
                self.courses.clear()
            self.courses[raw] = found
        return found


class _Group:
    """The rows of one administration in a long CSV."""

    __slots__ = ("id", "layout", "first", "row", "instrument", "allowed", "context", "admin", "total", "responses",
                 "items", "problems", "context_error")

    def __init__(self, group_id: tuple, first_line: int, layout: _Layout):
        self.id = group_id
        self.layout = layout
        self.first = first_line
        self.row: list[str] = []  # the first row, as read
        self.instrument: Any = None
        self.allowed: dict = {}
        self.context: tuple = ()  # the first row's client, course and session, checked and parsed once
        self.admin: dict = {}
        self.total: Optional[str] = None
        self.responses: list[tuple[str, Optional[int], str]] = []
        self.items: set[str] = set()
        self.problems: list[Rejection] = []
        self.context_error = False

    def start(self, row: list[str], line: int, heads: _Heads) -> None:
        """The first row: the fields every row of the administration repeats, checked here to name their line."""
        self.row = row
        cell = self.layout.cell
        try:
            self.instrument, self.allowed, name, version = heads.instrument(row)
            self.context = client_id, _, _, course, session = heads.context(row)
            respondent = cell(row, "respondent")
            if respondent and respondent not in RESPONDENTS:
                raise ValueError(f"respondent {respondent!r} is not one of {', '.join(RESPONDENTS)}")
            completed = cell(row, "completed_at") or None
            if completed:
                iso_datetime(completed, "completed_at")
            self.total = cell(row, "total") or None
            if self.total:
                number(self.total, "total")
        except ValueError as exc:
            self.problems.append(Rejection(f"line {line}", str(exc)))
            self.context_error = True
            return
        instrument = self.instrument
        self.admin = {
            "instrument_id": instrument.id,
            "instrument_version": version or instrument.version,
            "respondent": respondent or instrument.respondent,
            "source": "import",
            "started_at": completed,
            "finished_at": completed,
            # session "1" and "1.0", or a date written two ways, are the same administration: the key is
            # made from the parsed values, so a re-import from a spreadsheet that rewrote them is skipped.
            "import_key": import_key("csv", client_id, course["start_date"], session["number"], name,
                                     cell(row, "administration")),
        }

    def differs(self, row: list[str], line: int) -> bool:
        """Whether a later row's shared cells differ from the first row's (said, for the first that does)."""
        layout = self.layout
        for name in layout.shared:
            value, first = row[layout.index[name]].strip(), layout.cell(self.row, name)
            if value != first:
                self.problems.append(Rejection(
                    f"line {line}", f"{name} {value!r} differs from line {self.first} ({first!r}) of the same "
                    "administration"))
                return True
        return False

    def answer(self, item_id: str, text: str, given: str, line: int) -> None:
        """Any answer but the common one (which ``read`` takes itself): checked, or said why not."""
        item_id, text, given = item_id.strip(), text.strip(), given.strip()
        try:
            value = (int(text) if text.isdecimal() else whole_number(text, f"item {item_id}: value")) if text else None
            status = given or ("answered" if value is not None else "skipped")
            check_answer(self.instrument, item_id, value, status)
            if item_id in self.items:
                raise ValueError(f"item {item_id} appears twice in the same administration")
        except ValueError as exc:
            self.problems.append(Rejection(f"line {line}", str(exc)))
            return
        self.items.add(item_id)
        self.responses.append((item_id, value, status))

    def finish(self, last: int) -> Any:
        if self.problems:
            return self.problems
        client_id, display_name, birth_year, course, session = self.context
        return {
            "where": f"line {self.first}" if self.first == last else f"lines {self.first}-{last}",
            "stated_total": self.total,
            "client_id": client_id,
            "display_name": display_name,
            "birth_year": birth_year,
            "course": course,
            "session": session,
            "administration": self.admin,
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
