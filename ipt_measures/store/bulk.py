"""Bulk import: completed, scored administrations stored a batch per transaction (imports, the demo, benchmarks).

Called through the store (:meth:`SQLiteStore.bulk_import`, ``imported_answers``, ``stored_import_keys``), never
directly by the services. Clients, courses and sessions are cached by key and re-read when another process
has committed meanwhile (SQLite's data_version); ids are assigned in the batch so each table takes one
``executemany``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable, Optional

from ..errors import UsageError
from .sqlite import _INSERT_RESPONSE, ANALYZE_AFTER, SEVERITIES, _score_columns, declared, login, now

if TYPE_CHECKING:
    from .sqlite import SQLiteStore


def bulk_import(store: "SQLiteStore", records: Iterable[dict], batch_size: int = 2000,
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
    Each batch is one transaction: a crash loses at most the batch in flight, never part of a record.
    A course without an end date is refused (``UsageError``) if the client already has an active one.
    Returns counts: administrations stored, skipped as already present, clients/courses/sessions created.
    ``counts``, if given, is updated in place as each batch commits (and only then), so a caller that
    is interrupted knows exactly what was stored.
    """
    if counts is None:
        counts = {}
    for name in ("stored", "skipped", "clients", "courses", "sessions"):
        counts.setdefault(name, 0)
    clients: set[str] = {r[0] for r in store._conn.execute("SELECT id FROM clients")}
    courses: dict[tuple[str, str], int] = {
        (r[0], r[1]): r[2] for r in store._conn.execute("SELECT client_id, start_date, id FROM courses")
    }
    sessions: dict[tuple[int, int], int] = {
        (r[0], r[1]): r[2] for r in store._conn.execute("SELECT course_id, number, id FROM sessions")
    }
    # Another process may import at the same time: its commits change data_version, and then the
    # caches above are re-read inside the next batch's transaction (see _import_batch).
    seen = {"version": store._conn.execute("PRAGMA data_version").fetchone()[0]}
    batch: list[dict] = []
    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            _import_batch(store, batch, clients, courses, sessions, counts, seen)
            batch = []
    if batch:
        _import_batch(store, batch, clients, courses, sessions, counts, seen)
    if counts["stored"] >= ANALYZE_AFTER:
        store.analyze()
    return counts


def imported_answers(store: "SQLiteStore", keys: list[str]) -> dict[str, tuple[int, dict]]:
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


def stored_import_keys(store: "SQLiteStore", keys: list[str]) -> set[str]:
    """Which of these import keys are already stored (what a re-run import skips)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0] for r in store._conn.execute(f"SELECT import_key FROM administrations WHERE import_key IN ({marks})", chunk)
        )
    return found


def _import_batch(store: "SQLiteStore", batch, clients, courses, sessions, counts, seen=None) -> None:
    done = {name: 0 for name in counts}
    try:
        _import_batch_in(store, batch, clients, courses, sessions, done, seen)
    except BaseException:
        # What the failed transaction added to the caches was rolled back with it: read them afresh.
        if seen is not None:
            seen["version"] = None
        raise
    for name, n in done.items():
        counts[name] += n


def _import_batch_in(store: "SQLiteStore", batch, clients, courses, sessions, counts, seen=None) -> None:
    stamp = now()
    actor, named = login(), declared()
    keys = [r["administration"].get("import_key") for r in batch if r["administration"].get("import_key")]
    with store._transaction() as conn:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if seen is not None and version != seen["version"]:
            clients.clear()
            clients.update(r[0] for r in conn.execute("SELECT id FROM clients"))
            courses.clear()
            courses.update(((r[0], r[1]), r[2]) for r in conn.execute("SELECT client_id, start_date, id FROM courses"))
            sessions.clear()
            sessions.update(((r[0], r[1]), r[2]) for r in conn.execute("SELECT course_id, number, id FROM sessions"))
            seen["version"] = version
        existing = stored_import_keys(store, keys)
        next_admin = (conn.execute("SELECT coalesce(max(id), 0) FROM administrations").fetchone()[0]) + 1
        next_score = (conn.execute("SELECT coalesce(max(id), 0) FROM scores").fetchone()[0]) + 1
        admins, responses, scores, alerts = [], [], [], []
        per_client: dict[str, int] = {}
        for record in batch:
            a = record["administration"]
            key = a.get("import_key")
            if key and key in existing:
                counts["skipped"] += 1
                continue
            if key:
                existing.add(key)
            client_id = record["client_id"]
            if client_id not in clients:
                conn.execute(
                    "INSERT INTO clients (id, display_name, birth_year, created_at) VALUES (?, ?, ?, ?)",
                    (client_id, record.get("display_name"), record.get("birth_year"), stamp),
                )
                clients.add(client_id)
                counts["clients"] += 1
            c = record["course"]
            course_key = (client_id, c["start_date"])
            if course_key not in courses:
                if not c.get("end_date") and store._active_course(conn, client_id):
                    raise UsageError(f"client {client_id!r} already has an active course: the course started "
                                     f"{c['start_date']} would be a second one; nothing of this batch was stored")
                cur = conn.execute(
                    "INSERT INTO courses (client_id, start_date, planned_sessions, problem_areas, protocol,"
                    " end_date, end_reason, created_at, course_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (client_id, c["start_date"], c["planned_sessions"], json.dumps(c["problem_areas"]),
                     c.get("protocol"), c.get("end_date"), c.get("end_reason"), stamp,
                     c.get("course_type") or "standard"),
                )
                courses[course_key] = cur.lastrowid
                counts["courses"] += 1
            course_id = courses[course_key]
            s = record["session"]
            session_key = (course_id, s["number"])
            if session_key not in sessions:
                cur = conn.execute(
                    "INSERT INTO sessions (course_id, number, date, phase, created_at) VALUES (?, ?, ?, ?, ?)",
                    (course_id, s["number"], s["date"], s["phase"], stamp),
                )
                sessions[session_key] = cur.lastrowid
                counts["sessions"] += 1
            admin_id = next_admin
            next_admin += 1
            admins.append((admin_id, sessions[session_key], a["instrument_id"], a["instrument_version"],
                           a["respondent"], a.get("source", "import"), a.get("started_at") or stamp,
                           a.get("finished_at") or stamp, key))
            responses.extend((admin_id, item, value, status, a.get("finished_at") or stamp)
                             for item, value, status in record["responses"])
            scores.append((next_score, admin_id, *_score_columns(record["score"]), stamp))
            for alert in record.get("alerts") or ():  # raised by the score, stored with it
                if alert.get("severity") not in SEVERITIES or not alert.get("kind") or not alert.get("message"):
                    raise UsageError(f"an imported alert needs a kind, a message and a severity: {alert!r}")
                alerts.append((client_id, course_id, admin_id, alert.get("item_id"), alert["kind"],
                               alert.get("rule"), alert["severity"], alert["message"], stamp))
            next_score += 1
            per_client[client_id] = per_client.get(client_id, 0) + 1
        conn.executemany(
            "INSERT INTO administrations (id, session_id, instrument_id, instrument_version, respondent, status,"
            " source, started_at, finished_at, import_key) VALUES (?, ?, ?, ?, ?, 'complete', ?, ?, ?, ?)",
            admins,
        )
        conn.executemany(_INSERT_RESPONSE, responses)
        conn.executemany(
            "INSERT INTO scores (id, administration_id, current, total, band, band_severity, flag_count, scorer,"
            " data, computed_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
            scores,
        )
        conn.executemany(
            "INSERT INTO alerts (client_id, course_id, administration_id, item_id, kind, rule, severity, message,"
            " raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            alerts,
        )
        conn.executemany(
            "INSERT INTO audit (at, actor, declared_actor, client_id, action, new_value)"
            " VALUES (?, ?, ?, ?, 'imported', ?)",
            [(stamp, actor, named, client, f"{n} administration(s)") for client, n in per_client.items()],
        )
        counts["stored"] += len(admins)
