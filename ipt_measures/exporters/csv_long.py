"""CSV long: one row per score (total and each subscale), or with ``items`` one row per item response.

The item layout is also the import layout (``ipt import``): each row carries the administration's stated
total, so an import can rescore the answers and report any disagreement.
"""

from __future__ import annotations

import csv
from typing import IO, Any, Iterable

BASE = [
    "client_id", "course_start", "planned_sessions", "problem_areas", "protocol",
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


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def base_cells(record: dict) -> dict[str, Any]:
    course, session, admin = record["course"], record["session"], record["administration"]
    cells = {
        "client_id": record["client"]["id"],
        "course_start": course["start_date"],
        "planned_sessions": course["planned_sessions"],
        "problem_areas": LIST_SEPARATOR.join(course["problem_areas"]),
        "protocol": course.get("protocol"),
        "session": session["number"],
        "session_date": session["date"],
        "phase": session["phase"],
        "administration": admin["id"],
        "instrument": admin["instrument_id"],
        "instrument_version": admin["instrument_version"],
        "respondent": admin["respondent"],
        "completed_at": admin["finished_at"],
    }
    if "display_name" in record["client"]:
        cells["display_name"] = record["client"]["display_name"]
        cells["birth_year"] = record["client"]["birth_year"]
    return cells


def critical_items(score: dict) -> str:
    return LIST_SEPARATOR.join(dict.fromkeys(flag["item"] for flag in score.get("flags", [])))


def write(rows: Iterable[dict], out: IO[str], *, items: bool = False, **options: Any) -> None:
    writer = None
    for record in rows:
        if writer is None:  # the header follows the first record (identifiers present or not)
            writer = csv.DictWriter(out, columns(items, "display_name" in record["client"]), lineterminator="\n")
            writer.writeheader()
        base = base_cells(record)
        score = record.get("score") or {}
        total = score.get("total") or {}
        if items:
            for response in record["responses"]:
                writer.writerow({k: cell(v) for k, v in {
                    **base,
                    "item": response["item_id"],
                    "value": response["value"],
                    "status": response["status"],
                    "total": total.get("value"),
                    "band": total.get("band"),
                    "critical_items": critical_items(score),
                    "scorer": score.get("scorer"),
                }.items()})
        else:
            for scale in [total, *score.get("subscales", [])] if total else []:
                writer.writerow({k: cell(v) for k, v in {
                    **base,
                    "scale": scale["id"],
                    "score": scale.get("value"),
                    "band": scale.get("band"),
                    "band_severity": scale.get("band_severity"),
                    "answered": scale.get("answered"),
                    "missing": scale.get("missing"),
                    "prorated": scale.get("prorated"),
                    "critical_items": critical_items(score) if scale is total else "",
                    "scorer": score.get("scorer"),
                }.items()})
    if writer is None:  # an empty export still has its header
        csv.writer(out, lineterminator="\n").writerow(columns(items))
