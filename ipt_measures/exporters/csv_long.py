"""CSV long: one row per score (total and each subscale), or with ``items`` one row per item response.

The item layout is also the import layout (``ipt import``): each row carries the administration's stated
total, so an import can rescore the answers and report any disagreement. Every cell goes through
:func:`~ipt_measures.exporters.cells.cell` (numbers stay numbers; text cannot start a formula).
"""

from __future__ import annotations

import csv
from typing import IO, Any, Iterable

from .cells import LINE_END, cell

BASE = [
    "client_id", "course_start", "planned_sessions", "problem_areas", "protocol", "course_end",
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
