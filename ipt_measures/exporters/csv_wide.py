"""CSV wide: one row per client x session, with each instrument's total, band, subscales and critical items.

Columns are known before the first row (the export passes the instruments present; subscale ids come
from the registered definitions), so the file is written as it is read. If one instrument was given
twice in the same session, the second administration starts a second row for that session rather
than overwriting the first.
"""

from __future__ import annotations

import csv
from typing import IO, Any, Iterable

from .csv_long import LIST_SEPARATOR, cell, critical_items

SESSION_COLUMNS = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date", "phase"]


def _subscales(instrument_id: str) -> list[str]:
    from ..plugins import get_registry

    instrument = get_registry().instruments.get(instrument_id)
    return [scale.id for scale in instrument.scales[1:]] if instrument else []


def write(rows: Iterable[dict], out: IO[str], *, instruments: Iterable[str] = (), **options: Any) -> None:
    instruments = list(instruments)
    per_instrument: dict[str, list[str]] = {}
    score_columns: list[str] = []
    for iid in instruments:
        subs = _subscales(iid)
        per_instrument[iid] = subs
        score_columns += [f"{iid}_total", f"{iid}_band"] + [f"{iid}_{s}" for s in subs] + [f"{iid}_critical_items"]
    writer = None
    key = None
    row: dict[str, Any] = {}
    for record in rows:
        if writer is None:
            identifiers = ["display_name", "birth_year"] if "display_name" in record["client"] else []
            header = SESSION_COLUMNS[:1] + identifiers + SESSION_COLUMNS[1:] + score_columns
            writer = csv.DictWriter(out, header, lineterminator="\n", restval="")
            writer.writeheader()
        course, session, admin = record["course"], record["session"], record["administration"]
        this = (record["client"]["id"], course["start_date"], session["number"])
        iid = admin["instrument_id"]
        if this != key or f"{iid}_total" in row:
            if row:
                writer.writerow(row)
            key = this
            row = {
                "client_id": record["client"]["id"],
                "course_start": course["start_date"],
                "planned_sessions": course["planned_sessions"],
                "problem_areas": LIST_SEPARATOR.join(course["problem_areas"]),
                "session": session["number"],
                "session_date": session["date"],
                "phase": session["phase"],
            }
            if "display_name" in record["client"]:
                row["display_name"] = cell(record["client"]["display_name"])
                row["birth_year"] = cell(record["client"]["birth_year"])
        score = record.get("score") or {}
        total = score.get("total") or {}
        row[f"{iid}_total"] = cell(total.get("value"))
        row[f"{iid}_band"] = cell(total.get("band"))
        for sub in score.get("subscales", []):
            if sub["id"] in per_instrument.get(iid, ()):
                row[f"{iid}_{sub['id']}"] = cell(sub.get("value"))
        row[f"{iid}_critical_items"] = critical_items(score)
    if writer is None:
        csv.writer(out, lineterminator="\n").writerow(SESSION_COLUMNS + score_columns)
    elif row:
        writer.writerow(row)
