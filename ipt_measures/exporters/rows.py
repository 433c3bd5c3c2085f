"""The export query: completed administrations streamed from the store as export records.

Memory stays flat however large the record: administrations are read from one open cursor in batches
(``fetchmany``, never ``fetchall``), and each batch's item responses come from one indexed query on the
responses primary key. Only a batch is ever held.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

BATCH = 500

_SELECT = """
SELECT c.id AS client_id, c.display_name, c.birth_year,
       co.start_date, co.planned_sessions, co.problem_areas, co.protocol, co.end_date, co.end_reason,
       s.number AS session_number, s.date AS session_date, s.phase,
       a.id AS administration_id, a.instrument_id, a.instrument_version, a.respondent, a.status, a.source,
       a.started_at, a.finished_at,
       sc.data AS score_data
FROM administrations a
JOIN sessions s ON s.id = a.session_id
JOIN courses co ON co.id = s.course_id
JOIN clients c ON c.id = co.client_id
LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1
WHERE a.status = 'complete'
"""


def _client_filter(client_ids: Optional[list[str]]) -> tuple[str, list[Any]]:
    if client_ids is None:
        return "", []
    if not client_ids:
        return " AND 0", []
    return f" AND c.id IN ({','.join('?' * len(client_ids))})", list(client_ids)


def instrument_ids(store: Any, client_ids: Optional[list[str]] = None) -> list[str]:
    """The instruments with a completed administration among these clients, sorted."""
    where, params = _client_filter(client_ids)
    sql = (
        "SELECT DISTINCT a.instrument_id FROM administrations a JOIN sessions s ON s.id = a.session_id"
        " JOIN courses co ON co.id = s.course_id JOIN clients c ON c.id = co.client_id"
        " WHERE a.status = 'complete'" + where + " ORDER BY a.instrument_id"
    )
    return [row[0] for row in store.query(sql, params)]


def iter_records(
    store: Any,
    client_ids: Optional[list[str]] = None,
    *,
    include_identifiers: bool = False,
    deidentify: Any = None,
    batch: int = BATCH,
) -> Iterator[dict]:
    """Yield one export record per completed administration (see :mod:`ipt_measures.exporters`)."""
    where, params = _client_filter(client_ids)
    if deidentify is not None:
        # Ordered by pseudonym, not by the original id: rows sorted by original id would let anyone who
        # knows the list of ids match pseudonyms to clients by rank.
        store.conn.create_function("ipt_export_pseudonym", 1, deidentify.pseudonym, deterministic=True)
        order = " ORDER BY ipt_export_pseudonym(c.id)"
    else:
        order = " ORDER BY c.id"
    order += ", co.start_date, co.id, s.number, a.id"
    item_orders = _item_orders()
    conn = store.conn
    # One read transaction for the whole export: every batch sees the same snapshot of the record,
    # even if a clinician stores a score while a long export runs (WAL lets both proceed).
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    cursor = conn.cursor()
    try:
        cursor.execute(_SELECT + where + order, params)
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                break
            responses = _responses(store, [row["administration_id"] for row in rows])
            for row in rows:
                record = _record(row, responses.get(row["administration_id"], []), item_orders, include_identifiers)
                yield deidentify.record(record) if deidentify is not None else record
    finally:
        cursor.close()
        if began and conn.in_transaction:
            conn.execute("COMMIT")


def _responses(store: Any, administration_ids: list[int]) -> dict[int, list[dict]]:
    marks = ",".join("?" * len(administration_ids))
    result: dict[int, list[dict]] = {}
    for row in store.conn.execute(
        "SELECT administration_id, item_id, value, status FROM responses"
        f" WHERE administration_id IN ({marks}) ORDER BY administration_id, rowid",
        administration_ids,
    ):
        result.setdefault(row[0], []).append({"item_id": row[1], "value": row[2], "status": row[3]})
    return result


def _item_orders() -> dict[str, dict[str, int]]:
    """Item positions per registered instrument, so answers come out in the questionnaire's order."""
    from ..plugins import get_registry

    return {
        iid: {item.id: n for n, item in enumerate(inst.items)} for iid, inst in get_registry().instruments.items()
    }


def _record(row: Any, responses: list[dict], item_orders: dict, include_identifiers: bool) -> dict:
    client = {"id": row["client_id"]}
    if include_identifiers:
        client["display_name"] = row["display_name"]
        client["birth_year"] = row["birth_year"]
    order = item_orders.get(row["instrument_id"])
    if order:
        responses = sorted(responses, key=lambda r: order.get(r["item_id"], len(order)))
    return {
        "client": client,
        "course": {
            "start_date": row["start_date"],
            "planned_sessions": row["planned_sessions"],
            "problem_areas": json.loads(row["problem_areas"]),
            "protocol": row["protocol"],
            "end_date": row["end_date"],
            "end_reason": row["end_reason"],
        },
        "session": {"number": row["session_number"], "date": row["session_date"], "phase": row["phase"]},
        "administration": {
            "id": row["administration_id"],
            "instrument_id": row["instrument_id"],
            "instrument_version": row["instrument_version"],
            "respondent": row["respondent"],
            "status": row["status"],
            "source": row["source"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
        },
        "responses": responses,
        "score": json.loads(row["score_data"]) if row["score_data"] else None,
        "deidentified": False,
    }
