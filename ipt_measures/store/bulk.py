"""Bulk import, shared by both engines: completed, scored administrations stored a batch per transaction.

Called through the store (``bulk_import``, ``imported_answers``, ``stored_import_keys``), never directly by
the services. This module walks each batch once and plans its rows (clients, courses, sessions,
administrations, responses, scores, alerts, audit) with their ids; the engine's writer finds what already
exists, hands out ids and writes the rows: SQLite with one ``executemany`` per table (``sqlite_bulk.py``),
PostgreSQL with one ``COPY`` per table (``postgres_bulk.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional, Protocol

from ..errors import UsageError
from ..gcpause import bulk_collection
from .sql import SEVERITIES, _score_columns, declared, now

# Bulk work of at least this many administrations refreshes the planner's statistics (ANALYZE): enough rows
# for the statistics to describe the record; a handful of rows would only describe a nearly empty one.
ANALYZE_AFTER = 1000

# The columns each table's planned rows hold, in this order; tables are written in this order (references first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": ("id", "display_name", "birth_year", "created_at", "clinician"),
    "courses": ("id", "client_id", "start_date", "planned_sessions", "problem_areas", "protocol", "end_date",
                "end_reason", "created_at", "course_type", "clinician"),
    "sessions": ("id", "course_id", "number", "date", "phase", "created_at"),
    "administrations": ("id", "session_id", "instrument_id", "instrument_version", "respondent", "status", "source",
                        "started_at", "finished_at", "import_key"),
    "responses": ("administration_id", "item_id", "value", "status", "answered_at"),
    "scores": ("id", "administration_id", "current", "total", "band", "band_severity", "flag_count", "scorer", "data",
               "computed_at"),
    "alerts": ("client_id", "course_id", "administration_id", "item_id", "kind", "rule", "severity", "message",
               "raised_at"),
    "audit": ("at", "actor", "declared_actor", "client_id", "action", "new_value"),
}


@dataclass
class Known:
    """What the record already holds, at least for a batch's keys: client ids, courses by (client, start
    date), sessions by (course id, number). The plan adds what it creates."""

    clients: set[str] = field(default_factory=set)
    courses: dict[tuple[str, str], int] = field(default_factory=dict)
    sessions: dict[tuple[int, int], int] = field(default_factory=dict)


class Writer(Protocol):
    """An engine's part of a bulk import (see the module docstring)."""

    def known(self, conn: Any, batch: list[dict]) -> Known:
        """Inside the batch's transaction: what the record holds for this batch's clients."""
    def forget(self) -> None:
        """The batch's transaction failed: whatever :meth:`known` keeps between batches is stale."""
    def ids(self, conn: Any, table: str, needed: int) -> Iterator[int]:
        """New ids for ``table``, never handed out before (``needed``: at most this many will be taken)."""
    def stored_import_keys(self, conn: Any, keys: list[str]) -> set[str]:
        """Which of these import keys are already stored (what a re-run import skips)."""
    def write(self, conn: Any, rows: dict[str, list[tuple]]) -> None:
        """Write each table's planned rows (:data:`COLUMNS` order) in the batch's transaction."""


def bulk_import(store: Any, writer: Writer, records: Iterable[dict], batch_size: int = 2000,
                counts: Optional[dict] = None) -> dict[str, int]:
    """Store completed administrations in bulk: the path for imports, the demo generator and benchmarks.

    Each record is a dict::

        {"client_id": "c001", "display_name": None, "birth_year": None,
         "course": {"start_date": "2026-01-05", "planned_sessions": 16, "problem_areas": ["grief"],
                    "protocol": "ipt-default"},
         "session": {"number": 1, "date": "2026-01-05", "phase": "initial"},
         "administration": {"instrument_id": "phq9", "instrument_version": "1", "respondent": "self-report",
                            "source": "import", "started_at": ..., "finished_at": ..., "import_key": "..."},
         "responses": [("1", 2, "answered"), ("2", None, "skipped"), ...],
         "score": Score.model_dump(mode="json"),
         "alerts": [{"kind": "critical-item", "severity": "critical", "message": "...", "item_id": "9"}]}

    Clients, courses (matched by client and start date) and sessions are created when missing. A record
    whose ``import_key`` is already stored is skipped, so a half-done import can simply be run again.
    Each batch is one write transaction: a crash loses at most the batch in flight, never part of a record.
    A course without an end date is refused (``UsageError``) if the client already has an active one.
    Returns counts: administrations stored, skipped as already present, clients/courses/sessions created.
    ``counts``, if given, is updated in place as each batch commits (and only then), so a caller that
    is interrupted knows exactly what was stored. The audit gets one "imported" row per client and batch.
    """
    if counts is None:
        counts = {}
    for name in ("stored", "skipped", "clients", "courses", "sessions"):
        counts.setdefault(name, 0)
    batch: list[dict] = []
    with bulk_collection():
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                _import_batch(store, writer, batch, counts)
                batch = []
        if batch:
            _import_batch(store, writer, batch, counts)
    if counts["stored"] >= ANALYZE_AFTER:
        store.analyze()
    return counts


def imported_answers(store: Any, keys: list[str]) -> dict[str, tuple[int, dict]]:
    """For the import keys already stored: key -> (administration id, {item: (value, status)})."""
    found: dict[str, tuple[int, dict]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for key, admin_id, item, value, status in store._query(
            "SELECT a.import_key, a.id, r.item_id, r.value, r.status FROM administrations a"
            f" JOIN responses r ON r.administration_id = a.id WHERE a.import_key IN ({marks})", chunk
        ):
            found.setdefault(key, (admin_id, {}))[1][item] = (value, status)
    return found


def stored_import_keys(conn: Any, keys: list[str]) -> set[str]:
    """Which of these import keys are already stored (what a re-run import skips), in portable SQL."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in conn.execute(f"SELECT import_key FROM administrations WHERE import_key IN ({marks})", chunk))
    return found


def _import_batch(store: Any, writer: Writer, batch: list[dict], counts: dict) -> None:
    done = {name: 0 for name in counts}
    try:
        with store._transaction() as conn:
            rows = _plan(store, writer, conn, batch, done)
            writer.write(conn, rows)
    except BaseException:
        # What the failed transaction added to the writer's caches was rolled back with it.
        writer.forget()
        raise
    for name, n in done.items():
        counts[name] += n


def _plan(store: Any, writer: Writer, conn: Any, batch: list[dict], counts: dict) -> dict[str, list[tuple]]:
    """Walk one batch: the rows to write, table by table, with their ids (inside the batch's transaction)."""
    stamp = now()
    actor, named = store._actor(), declared()
    known = writer.known(conn, batch)
    keys = [r["administration"].get("import_key") for r in batch if r["administration"].get("import_key")]
    existing = writer.stored_import_keys(conn, keys)
    # At most this many of each are new (ids are taken lazily: a batch of known sessions takes none).
    fresh = [r for r in batch if not r["administration"].get("import_key") or r["administration"]["import_key"] not in existing]
    admin_ids, score_ids = writer.ids(conn, "administrations", len(fresh)), writer.ids(conn, "scores", len(fresh))
    course_ids = writer.ids(conn, "courses", len({(r["client_id"], r["course"]["start_date"]) for r in fresh}))
    session_ids = writer.ids(conn, "sessions", len({(r["client_id"], r["course"]["start_date"], r["session"]["number"])
                                                    for r in fresh}))
    rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
    new_clients: set[str] = set()
    active_new: set[str] = set()  # clients given an active course by this batch
    per_client: dict[str, int] = {}
    # Bound once per batch: the loop below runs once per administration and is most of the import's own time.
    clients_rows, courses_rows, sessions_rows, alerts_rows = rows["clients"], rows["courses"], rows["sessions"], rows["alerts"]
    add_administration, add_responses, add_score = rows["administrations"].append, rows["responses"].extend, \
        rows["scores"].append
    known_clients, known_courses, known_sessions = known.clients, known.courses, known.sessions
    for record in batch:
        a = record["administration"]
        key = a.get("import_key")
        if key:
            if key in existing:
                counts["skipped"] += 1
                continue
            existing.add(key)
        client_id = record["client_id"]
        if client_id not in known_clients:
            # Imported clients and courses are the importer's (on a server, the role that imports them).
            clients_rows.append((client_id, record.get("display_name"), record.get("birth_year"), stamp, actor))
            known_clients.add(client_id)
            new_clients.add(client_id)
            counts["clients"] += 1
        c = record["course"]
        course_key = (client_id, c["start_date"])
        course_id = known_courses.get(course_key)
        if course_id is None:
            if not c.get("end_date"):
                if client_id in active_new or (client_id not in new_clients and store._active_course(conn, client_id)):
                    raise UsageError(f"client {client_id!r} already has an active course: the course started "
                                     f"{c['start_date']} would be a second one; nothing of this batch was stored")
                active_new.add(client_id)
            course_id = next(course_ids)
            courses_rows.append((course_id, client_id, c["start_date"], c["planned_sessions"],
                                 json.dumps(c["problem_areas"]), c.get("protocol"), c.get("end_date"),
                                 c.get("end_reason"), stamp, c.get("course_type") or "standard", actor))
            known_courses[course_key] = course_id
            counts["courses"] += 1
        s = record["session"]
        session_key = (course_id, s["number"])
        session_id = known_sessions.get(session_key)
        if session_id is None:
            session_id = next(session_ids)
            sessions_rows.append((session_id, course_id, s["number"], s["date"], s["phase"], stamp))
            known_sessions[session_key] = session_id
            counts["sessions"] += 1
        admin_id = next(admin_ids)
        finished = a.get("finished_at") or stamp
        add_administration((admin_id, session_id, a["instrument_id"], a["instrument_version"], a["respondent"],
                            "complete", a.get("source", "import"), a.get("started_at") or stamp, finished, key))
        add_responses([(admin_id, item, value, status, finished) for item, value, status in record["responses"]])
        add_score((next(score_ids), admin_id, 1, *_score_columns(record["score"]), stamp))
        alerts = record.get("alerts")
        if alerts:  # raised by the score, stored with it
            for alert in alerts:
                if alert.get("severity") not in SEVERITIES or not alert.get("kind") or not alert.get("message"):
                    raise UsageError(f"an imported alert needs a kind, a message and a severity: {alert!r}")
                alerts_rows.append((client_id, course_id, admin_id, alert.get("item_id"), alert["kind"],
                                    alert.get("rule"), alert["severity"], alert["message"], stamp))
        per_client[client_id] = per_client.get(client_id, 0) + 1
    rows["audit"] = [(stamp, actor, named, client, "imported", f"{k} administration(s)") for client, k in per_client.items()]
    counts["stored"] += len(rows["administrations"])
    return rows
