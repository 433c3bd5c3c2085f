"""The export query: completed administrations streamed from the store as export records.

Memory stays flat however large the record: administrations are read from one open cursor in batches
(``fetchmany``, never ``fetchall``), and each batch's item responses come from one indexed query on the
responses primary key. Only a batch is ever held.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterator, Optional

BATCH = 500

_SELECT = """
SELECT c.id AS client_id, c.display_name, c.birth_year,
       co.start_date, co.planned_sessions, co.problem_areas, co.protocol, co.end_date, co.end_reason,
       s.id AS session_id, s.number AS session_number, s.date AS session_date, s.phase,
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
    responses: bool = True,
    amendments: bool = False,
    alerts: bool = False,
) -> Iterator[dict]:
    """Yield one export record per completed administration (see :mod:`ipt_measures.exporters`).

    With ``responses=False`` (a format that writes no item responses) every record has ``"responses": []``
    and the responses table is not read. With ``amendments`` each record also has ``"amendments"``: the
    corrections made to its answers or its session after it was completed, oldest first (``at``, ``actor``,
    ``field``, ``old``, ``new``, ``reason``); with ``alerts``, ``"alerts"``: the alerts it raised, open and
    acknowledged (the alert store's dicts). A client's alerts raised by no exported administration (a
    course review, an administration left unfinished) go with that client's first record.
    """
    where, params = _client_filter(client_ids)
    if deidentify is not None:
        # Ordered by pseudonym, not by the original id: rows sorted by original id would let anyone who
        # knows the list of ids match pseudonyms to clients by rank.
        store.conn.create_function("ipt_export_pseudonym", 1, deidentify.pseudonym, deterministic=True)
        order = " ORDER BY ipt_export_pseudonym(c.id)"
    else:
        order = " ORDER BY c.id"
    order += ", co.start_date, co.id, s.number, a.id"
    item_orders: dict[str, Any] = {**_item_orders(), "": {}}  # "": the permutations met (_in_item_order)
    alert_source = _Alerts(store) if alerts and hasattr(store, "alerts") else None
    conn = store.conn
    # One read transaction for the whole export: every batch sees the same snapshot of the record,
    # even if a clinician stores a score while a long export runs (WAL lets both proceed).
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples, unpacked in _COLUMNS order: quicker than sqlite3.Row by name
    try:
        cursor.execute(_SELECT + where + order, params)
        if tuple(d[0] for d in cursor.description) != _COLUMNS:
            raise RuntimeError("the export query's columns are not those _record unpacks")
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                break
            answers = _responses(store, [row[_ADMINISTRATION] for row in rows]) if responses else {}
            changes = _amendments(store, rows) if amendments else None
            for row in rows:
                record = _record(row, answers.get(row[_ADMINISTRATION], []), item_orders, include_identifiers)
                if changes is not None:
                    record["amendments"] = changes.get(row[_ADMINISTRATION], [])
                if alert_source is not None:
                    record["alerts"] = alert_source.for_record(row)
                yield deidentify.record(record) if deidentify is not None else record
    finally:
        # An export abandoned part-way (a closed pipe, an error) may be finalised after the store has
        # closed its connection; there is then nothing left to close or commit.
        try:
            cursor.close()
            if began and conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.ProgrammingError:
            pass


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


def _amendments(store: Any, rows: list[tuple]) -> dict[int, list[dict]]:
    """The amendments of a batch's administrations, from the audit (read by client, which is indexed).

    An answer's amendment names its administration (``<administration>/<item>``); a session's (its date or
    phase) counts for every administration of that session completed before it was made."""
    clients = list(dict.fromkeys(row[_CLIENT] for row in rows))
    by_admin = {row[_ADMINISTRATION]: row for row in rows}
    by_session: dict[int, list[tuple]] = {}
    for row in rows:
        by_session.setdefault(row[_SESSION], []).append(row)
    result: dict[int, list[dict]] = {}
    marks = ",".join("?" * len(clients))
    for at, actor, entity, entity_id, fld, old, new, reason in store.conn.execute(
        "SELECT at, actor, entity, entity_id, field, old_value, new_value, reason FROM audit"
        f" WHERE client_id IN ({marks}) AND action = 'amendment' ORDER BY id", clients,
    ):
        change = {"at": at, "actor": actor, "field": fld, "old": old, "new": new, "reason": reason}
        if entity == "response":
            admin_id = int(str(entity_id).split("/", 1)[0])
            if admin_id in by_admin:
                result.setdefault(admin_id, []).append(change)
        elif entity == "session":
            for row in by_session.get(int(entity_id), []):
                if (row[_FINISHED] or "") <= at:
                    result.setdefault(row[_ADMINISTRATION], []).append(dict(change))
    return result


class _Alerts:
    """Each client's alerts (the alert store's API, open and acknowledged), handed out record by record."""

    def __init__(self, store: Any):
        self.store = store
        self.client: Any = None
        self.pending: dict[Any, list[dict]] = {}

    def for_record(self, row: tuple) -> list[dict]:
        client_id, admin_id = row[_CLIENT], row[_ADMINISTRATION]
        if client_id == self.client:
            return self.pending.pop(admin_id, [])
        self.client = client_id
        self.pending = {}
        alerts = self.store.alerts(client_id, include_acknowledged=True)
        admin_ids = {a["administration_id"] for a in alerts if a.get("administration_id") is not None}
        exported: set = set()
        if admin_ids:
            marks = ",".join("?" * len(admin_ids))
            exported = {r[0] for r in self.store.conn.execute(
                f"SELECT id FROM administrations WHERE status = 'complete' AND id IN ({marks})", list(admin_ids))}
        first: list[dict] = []
        for alert in alerts:
            if alert.get("administration_id") in exported:
                self.pending.setdefault(alert["administration_id"], []).append(alert)
            else:
                first.append(alert)
        return first + self.pending.pop(admin_id, [])


def _item_orders() -> dict[str, dict[str, int]]:
    """Item positions per registered instrument, so answers come out in the questionnaire's order."""
    from ..plugins import get_registry

    return {
        iid: {item.id: n for n, item in enumerate(inst.items)} for iid, inst in get_registry().instruments.items()
    }


_COLUMNS = (
    "client_id", "display_name", "birth_year",
    "start_date", "planned_sessions", "problem_areas", "protocol", "end_date", "end_reason",
    "session_id", "session_number", "session_date", "phase",
    "administration_id", "instrument_id", "instrument_version", "respondent", "status", "source",
    "started_at", "finished_at",
    "score_data",
)
_ADMINISTRATION = _COLUMNS.index("administration_id")
_CLIENT = _COLUMNS.index("client_id")
_SESSION = _COLUMNS.index("session_id")
_FINISHED = _COLUMNS.index("finished_at")

# Decoded problem-area lists by their JSON text: a caseload has only a handful of distinct ones. Each
# record gets its own copy of the list, so a writer that changes one changes nothing else.
_problem_areas: dict[str, list] = {}


def _decode_problem_areas(text: str) -> list:
    decoded = _problem_areas.get(text)
    if decoded is None:
        decoded = json.loads(text)
        if len(_problem_areas) >= 256:
            _problem_areas.clear()
        _problem_areas[text] = decoded
    return list(decoded)


def _in_item_order(item_orders: dict, instrument_id: str, responses: list[dict]) -> list[dict]:
    """The responses in the questionnaire's order. The permutation is worked out once per (instrument,
    item ids as stored) and kept in ``item_orders["", "permutations"]`` for this export: an export meets
    the same few sequences over and over, usually already in order."""
    permutations = item_orders[""]
    key = (instrument_id, *[r["item_id"] for r in responses])
    permutation = permutations.get(key, False)
    if permutation is False:
        order = item_orders.get(instrument_id) or {}
        ranks = [order.get(item_id, len(order)) for item_id in key[1:]]
        permutation = sorted(range(len(ranks)), key=ranks.__getitem__)
        if permutation == list(range(len(ranks))):
            permutation = None
        if len(permutations) < 4096:
            permutations[key] = permutation
    return responses if permutation is None else [responses[i] for i in permutation]


def _record(row: tuple, responses: list[dict], item_orders: dict, include_identifiers: bool) -> dict:
    (client_id, display_name, birth_year, start_date, planned_sessions, problem_areas, protocol, end_date,
     end_reason, session_id, session_number, session_date, phase, administration_id, instrument_id, instrument_version,
     respondent, status, source, started_at, finished_at, score_data) = row
    client = {"id": client_id}
    if include_identifiers:
        client["display_name"] = display_name
        client["birth_year"] = birth_year
    if responses:
        responses = _in_item_order(item_orders, instrument_id, responses)
    return {
        "client": client,
        "course": {
            "start_date": start_date,
            "planned_sessions": planned_sessions,
            "problem_areas": _decode_problem_areas(problem_areas),
            "protocol": protocol,
            "end_date": end_date,
            "end_reason": end_reason,
        },
        "session": {"number": session_number, "date": session_date, "phase": phase},
        "administration": {
            "id": administration_id,
            "instrument_id": instrument_id,
            "instrument_version": instrument_version,
            "respondent": respondent,
            "status": status,
            "source": source,
            "started_at": started_at,
            "finished_at": finished_at,
        },
        "responses": responses,
        "score": json.loads(score_data) if score_data else None,
        "deidentified": False,
    }
