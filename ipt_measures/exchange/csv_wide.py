"""CSV wide: one row per client x session, with each instrument's administration, total, band, subscales
and critical items.

Columns are known before the first row (the export passes the instruments present; subscale ids come
from the registered definitions), so the file is written as it is read. If one instrument was given
twice in the same session, the second administration starts a second row for that session rather
than overwriting the first; the ``<instrument>_administration`` column tells the two apart.

Column names are ``<instrument>_<column>`` with every ``-`` or ``.`` in an id written as ``_``
(``qids_sr16_total``): names an analyst can use as identifiers in pandas, R, SPSS and SQL. An
administration that could not be scored (too many missing answers) keeps its row, with an empty total
and ``<instrument>_status`` ``not scored`` (``scored`` otherwise), so it is never an unexplained blank.
"""

from __future__ import annotations

import csv
from typing import IO, Any, Iterable

from .cells import LINE_END, cell
from .csv_long import LIST_SEPARATOR, critical_items

SESSION_COLUMNS = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date", "phase"]
SCORED, NOT_SCORED = "scored", "not scored"


def column_name(*parts: str) -> str:
    """``qids-sr16`` + ``total`` -> ``qids_sr16_total``: no hyphen or dot in a column name."""
    return "_".join(parts).replace("-", "_").replace(".", "_")


def _subscales(instrument_id: str) -> list[str]:
    from ..plugins import get_registry

    instrument = get_registry().instruments.get(instrument_id)
    return [scale.id for scale in instrument.scales[1:]] if instrument else []


def instrument_columns(instrument_id: str, subscales: list[str]) -> dict[str, str]:
    """The columns of one instrument, by role (``total``, ``sub:<id>``...), in file order."""
    columns = {role: column_name(instrument_id, role) for role in ("administration", "status", "total", "band")}
    columns.update({f"sub:{s}": column_name(instrument_id, s) for s in subscales})
    columns.update({role: column_name(instrument_id, role) for role in ("prorated", "critical_items")})
    return columns


def write(rows: Iterable[dict], out: IO[str], *, instruments: Iterable[str] = (), **options: Any) -> None:
    per_instrument = {iid: instrument_columns(iid, _subscales(iid)) for iid in instruments}
    score_columns = [name for columns in per_instrument.values() for name in columns.values()]
    if len(set(score_columns)) != len(score_columns):
        from ..errors import UsageError

        raise UsageError("two instruments or subscales give the same csv-wide column name; use csv-long")
    writer = None
    key = None
    row: dict[str, Any] = {}
    for record in rows:
        if writer is None:
            identifiers = ["display_name", "birth_year"] if "display_name" in record["client"] else []
            header = SESSION_COLUMNS[:1] + identifiers + SESSION_COLUMNS[1:] + score_columns
            writer = csv.DictWriter(out, header, lineterminator=LINE_END, restval="")
            writer.writeheader()
        course, session, admin = record["course"], record["session"], record["administration"]
        this = (record["client"]["id"], course["start_date"], session["number"])
        iid = admin["instrument_id"]
        columns = per_instrument.get(iid) or instrument_columns(iid, [])
        if this != key or columns["administration"] in row:
            if row:
                writer.writerow(row)
            key = this
            row = {
                "client_id": cell(record["client"]["id"]),
                "course_start": cell(course["start_date"]),
                "planned_sessions": cell(course["planned_sessions"]),
                "problem_areas": cell(LIST_SEPARATOR.join(course["problem_areas"])),
                "session": cell(session["number"]),
                "session_date": cell(session["date"]),
                "phase": cell(session["phase"]),
            }
            if "display_name" in record["client"]:
                row["display_name"] = cell(record["client"]["display_name"])
                row["birth_year"] = cell(record["client"]["birth_year"])
        score = record.get("score") or {}
        total = score.get("total") or {}
        row[columns["administration"]] = cell(admin["id"])
        row[columns["status"]] = SCORED if total.get("value") is not None else NOT_SCORED
        row[columns["total"]] = cell(total.get("value"))
        row[columns["band"]] = cell(total.get("band"))
        for sub in score.get("subscales", []):
            name = columns.get(f"sub:{sub['id']}")
            if name:
                row[name] = cell(sub.get("value"))
        row[columns["prorated"]] = cell(bool(total.get("prorated")))
        row[columns["critical_items"]] = cell(critical_items(score))
    if writer is None:
        csv.writer(out, lineterminator=LINE_END).writerow(SESSION_COLUMNS + score_columns)
    elif row:
        writer.writerow(row)
