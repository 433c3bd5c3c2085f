"""Benchmark tasks for the two engines side by side (``benchmarks/engines.py``): each runs in a fresh child
process, as ``python benchmarks/server_tasks.py TASK '{json args}'``, and prints one JSON object with ``seconds``
(the timed part only). ``db`` is a SQLite file or a ``postgresql://`` location; each figure's floor is the
bare driver (sqlite3 or psycopg) doing the same job on the same data."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tasks import FLOOR_COLUMNS, TASKS, _records, export_one_client, floor_rows, peak_rss_mb

SERVER = ("postgresql://", "postgres://")


def _connect(db):
    """The bare driver's connection to ``db`` (autocommit, as the floor needs no more)."""
    if db.startswith(SERVER):
        import psycopg

        return psycopg.connect(db, autocommit=True)
    return sqlite3.connect(db, isolation_level=None)


def import_floor_copy(db, n):
    """The PostgreSQL floor: the same rows, prepared in advance, written by bare psycopg COPY in one
    transaction into the same schema (its indexes, keys and triggers), then the identities moved on."""
    import psycopg

    from ipt_measures.store.migrations_postgres import MIGRATIONS

    rows = floor_rows(_records(n, scored=True))
    conn = psycopg.connect(db, autocommit=True)
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for _, sql in MIGRATIONS:
        conn.execute(sql)
    started = time.perf_counter()
    with conn.transaction():
        cursor = conn.cursor()
        for table, columns in FLOOR_COLUMNS.items():
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows[table]:
                    copy.write_row(row)
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "stored": len(rows["administrations"]), "peak_rss_mb": peak_rss_mb()}


def _caseload_queries(unindexed):
    """caseload's three set-based queries, as the store words them (``unindexed``: SQLite's plan hint)."""
    return (
        "SELECT id, client_id, start_date, planned_sessions, problem_areas FROM courses WHERE end_date IS NULL",
        "SELECT s.course_id, s.number, s.date, s.phase FROM sessions s"
        " WHERE s.course_id IN (SELECT id FROM courses WHERE end_date IS NULL)",
        "SELECT s.course_id, s.number, a.instrument_id, sc.total, sc.band, sc.flag_count"
        " FROM administrations a JOIN sessions s ON s.id = a.session_id"
        " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
        f" WHERE s.course_id IN (SELECT id FROM courses WHERE end_date IS NULL) AND {unindexed}a.status = 'complete'"
        " ORDER BY s.course_id, s.number, a.id",
    )


def caseload_floor_any(db, repeat):
    """The floor on either engine: caseload's three queries through the bare driver; rows fetched, nothing else."""
    conn = _connect(db)
    queries = _caseload_queries("" if db.startswith(SERVER) else "+")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for sql in queries:
            conn.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    conn.close()
    return {"seconds": statistics.median(times)}


def _middle_client(db):
    conn = _connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM clients ORDER BY id").fetchall()]
    conn.close()
    return ids[len(ids) // 2]


def export_client_library(db, repeat):
    """``ipt export CLIENT`` as a library call on either engine: tasks.export_one_client, for the middle client."""
    return export_one_client(db, repeat, client=_middle_client(db))


def export_client_floor(db, repeat):
    """The floor: the export's own query for that client through the bare driver, its rows written by the csv
    module (in a read transaction, as the export reads from one snapshot)."""
    from ipt_measures.store.sql import EXPORT_SELECT

    client = _middle_client(db)
    server = db.startswith(SERVER)
    sql = EXPORT_SELECT + " AND c.id = ? ORDER BY c.id, co.start_date, co.id, s.number, a.id"
    conn = _connect(db)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if server else "BEGIN")
        cursor = conn.execute(sql.replace("?", "%s") if server else sql, (client,))
        writer = csv.writer(io.StringIO(), lineterminator="\n")
        writer.writerow([d[0] for d in cursor.description])
        writer.writerows(cursor.fetchall())
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
    conn.close()
    return {"seconds": statistics.median(times), "client": client}


SERVER_TASKS = {f.__name__: f for f in (import_floor_copy, caseload_floor_any, export_client_library,
                                         export_client_floor)}

if __name__ == "__main__":
    name, args = sys.argv[1], json.loads(sys.argv[2])
    result = {**TASKS, **SERVER_TASKS}[name](**args)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    print(json.dumps(result))
