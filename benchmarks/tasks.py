"""Benchmark tasks, each run in a fresh child process so its time and peak memory are its own.

Run by ``benchmarks/run.py`` as ``python benchmarks/tasks.py TASK '{json args}'``; prints one JSON object
with ``seconds`` (the timed part only) and ``peak_rss_mb`` (the child's peak resident memory, from
``resource.getrusage``). Each figure has a floor task: the least code that does the same job with the
standard library alone, on the same data, so the ratio measures our overhead and not the machine.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date
from itertools import islice
from pathlib import Path

AS_OF = date(2026, 11, 2)
INSTRUMENTS_X4 = ["phq9", "gad7", "mspss", "wsas"]  # one per IPT front: depression, anxiety, support, functioning


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    kb = resource.getrusage(who).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


def four_instruments():
    from ipt_measures.plugins import get_registry

    have = get_registry().instruments
    chosen = [i for i in INSTRUMENTS_X4 if i in have]
    for extra in sorted(have):  # if one of the four is not registered, the next ids make up four
        if len(chosen) == 4:
            break
        if extra not in chosen:
            chosen.append(extra)
    return chosen


# -- building the databases --------------------------------------------------------------------------


def build_demo(db, clients, shape):
    """A demo caseload: ``shape`` "clinic" (the demo's own mix) or "x16x4" (16 sessions x 4 instruments)."""
    from ipt_measures import demo
    from ipt_measures.store import open_store

    options = {"as_of": AS_OF}
    if shape == "x16x4":
        options.update(sessions=16, instruments=four_instruments(), every_session=True)
    started = time.perf_counter()
    with open_store(db) as store:
        result = demo.populate(store, clients, 1, batch_size=5000, **options)
    return {"seconds": time.perf_counter() - started, "administrations": result["stored"]}


def _records(n, scored):
    """The first ``n`` administrations of a 16 sessions x 4 instruments caseload (64 per client)."""
    from ipt_measures import demo

    clients = -(-n // 64)
    gen = demo.generate(clients, 1, as_of=AS_OF, sessions=16, instruments=four_instruments(), scored=scored)
    return list(islice(gen, n))


# -- import + score + store ----------------------------------------------------------------------------


def import_library(db, n):
    """Score and store ``n`` administrations given as answers (the library import path)."""
    from ipt_measures.demo import score_records
    from ipt_measures.plugins import get_registry
    from ipt_measures.store import open_store

    records = _records(n, scored=False)  # the input, made before the clock starts
    registry = get_registry()
    store = open_store(db)
    started = time.perf_counter()
    counts = store.bulk_import(score_records(records, registry))
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "stored": counts["stored"], "peak_rss_mb": peak_rss_mb()}


def store_library(db, n):
    """Store ``n`` already scored administrations with bulk_import (the store alone)."""
    from ipt_measures.store import open_store

    records = _records(n, scored=True)
    store = open_store(db)
    started = time.perf_counter()
    counts = store.bulk_import(records)
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "stored": counts["stored"], "peak_rss_mb": peak_rss_mb()}


def floor_rows(records):
    """The rows a bulk import of ``records`` writes, table by table, ids assigned in order (made before the clock)."""
    stamp = "2026-11-02T10:00:00+00:00"
    rows = {t: [] for t in ("clients", "courses", "sessions", "administrations", "responses", "scores")}
    seen_clients, course_ids, session_ids = set(), {}, {}
    for admin_id, r in enumerate(records, start=1):
        c = r["course"]
        key = (r["client_id"], c["start_date"])
        if r["client_id"] not in seen_clients:
            seen_clients.add(r["client_id"])
            rows["clients"].append((r["client_id"], None, None, stamp))
        if key not in course_ids:
            course_ids[key] = len(course_ids) + 1
            rows["courses"].append((course_ids[key], r["client_id"], c["start_date"], c["planned_sessions"],
                                    json.dumps(c["problem_areas"]), c.get("protocol"), c.get("end_date"),
                                    c.get("end_reason"), stamp))
        skey = (course_ids[key], r["session"]["number"])
        if skey not in session_ids:
            session_ids[skey] = len(session_ids) + 1
            s = r["session"]
            rows["sessions"].append((session_ids[skey], skey[0], s["number"], s["date"], s["phase"], stamp))
        a = r["administration"]
        rows["administrations"].append((admin_id, session_ids[skey], a["instrument_id"], a["instrument_version"],
                                        a["respondent"], "complete", a["source"], a["started_at"], a["finished_at"],
                                        a["import_key"]))
        rows["responses"].extend((admin_id, item, value, status, a["finished_at"]) for item, value, status in r["responses"])
        score = r["score"]
        total = score["total"]
        rows["scores"].append((admin_id, admin_id, 1, total["value"], total["band"], total.get("band_severity"),
                               len(score["flags"]), score["scorer"], json.dumps(score, separators=(",", ":")), stamp))
    return rows


FLOOR_COLUMNS = {
    "clients": "id, display_name, birth_year, created_at",
    "courses": "id, client_id, start_date, planned_sessions, problem_areas, protocol, end_date, end_reason, created_at",
    "sessions": "id, course_id, number, date, phase, created_at",
    "administrations": "id, session_id, instrument_id, instrument_version, respondent, status, source, started_at,"
                       " finished_at, import_key",
    "responses": "administration_id, item_id, value, status, answered_at",
    "scores": "id, administration_id, current, total, band, band_severity, flag_count, scorer, data, computed_at",
}


def import_floor(db, n):
    """The floor: the same rows, prepared in advance, written by bare sqlite3 executemany into the same schema."""
    from ipt_measures.store.migrations import MIGRATIONS
    from ipt_measures.store.sqlite import _statements

    rows = floor_rows(_records(n, scored=True))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # the same settings as the store
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    for _, sql in MIGRATIONS:
        for statement in _statements(sql):
            conn.execute(statement)
    started = time.perf_counter()
    conn.execute("BEGIN")
    for table, columns in FLOOR_COLUMNS.items():
        conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(columns.split(',')))})",
                         rows[table])
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "stored": len(rows["administrations"]), "peak_rss_mb": peak_rss_mb()}


def cli(args, env=None):
    """Run one `ipt` command as a grandchild; its time and its own peak memory (RUSAGE_CHILDREN)."""
    full_env = {**os.environ, **(env or {})}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ipt_measures", *args], capture_output=True, text=True, env=full_env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ipt {' '.join(args)} failed: {done.stderr[-500:]}")
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN), "stdout_tail": done.stdout[-300:]}


# -- export --------------------------------------------------------------------------------------------


def export_library(db, out, items=False):
    from ipt_measures.exchange.exporting import export
    from ipt_measures.plugins import get_registry
    from ipt_measures.store import open_store

    get_registry()  # plugin loading is start-up, not export
    store = open_store(db)
    started = time.perf_counter()
    with open(out, "w", newline="") as f:
        n = export(store, "csv-long", f, items=items)
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "administrations": n, "bytes": Path(out).stat().st_size, "peak_rss_mb": peak_rss_mb()}


def export_floor(db, out):
    """The floor: the export's own query, its rows written by the csv module alone."""
    from ipt_measures.store.sqlite import EXPORT_SELECT

    conn = sqlite3.connect(db)
    started = time.perf_counter()
    with open(out, "w", newline="") as f:
        cursor = conn.execute(EXPORT_SELECT + " ORDER BY c.id, co.start_date, co.id, s.number, a.id")
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([d[0] for d in cursor.description])
        writer.writerows(cursor)
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "bytes": Path(out).stat().st_size, "peak_rss_mb": peak_rss_mb()}


def export_formats(db, formats, rounds=3):
    """CPU seconds of a whole export (query, records, writer) per format, measured in one process,
    the formats taken in turn in each round and the best round kept: the ratio compares like with like."""
    from ipt_measures.exchange.exporting import export
    from ipt_measures.plugins import get_registry
    from ipt_measures.store import open_store

    get_registry()
    store = open_store(db)
    best: dict[str, float] = {}
    count = 0
    for _ in range(rounds):
        for fmt in formats:
            with open(os.devnull, "w", newline="") as sink:
                started = time.process_time()
                count = export(store, fmt, sink)
                spent = time.process_time() - started
            best[fmt] = min(best.get(fmt, spent), spent)
    store.close()
    return {"seconds": best, "administrations": count}


# -- progress and caseload ---------------------------------------------------------------------------


def _sample_clients(db, k):
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM clients ORDER BY id")]
    conn.close()
    step = max(1, len(ids) // k)
    return ids[::step][:k]


def progress_library(db, k):
    """review.progress for k clients spread over the database, warm (plugins loaded, store open)."""
    from ipt_measures.plugins import get_registry
    from ipt_measures.review import progress
    from ipt_measures.store import open_store

    registry = get_registry()
    store = open_store(db)
    clients = _sample_clients(db, k)
    progress(store, clients[0], registry=registry)
    times = []
    for client in clients:
        started = time.perf_counter()
        progress(store, client, registry=registry)
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "max": max(times), "n": len(times)}


def progress_floor(db, k):
    """The floor: the rows progress reads (course, sessions, administrations with current scores), bare sqlite3."""
    conn = sqlite3.connect(db)
    clients = _sample_clients(db, k)
    times = []
    for client in clients:
        started = time.perf_counter()
        course = conn.execute("SELECT * FROM courses WHERE client_id = ? ORDER BY id DESC LIMIT 1", (client,)).fetchone()
        conn.execute("SELECT * FROM sessions WHERE course_id = ? ORDER BY number", (course[0],)).fetchall()
        conn.execute(
            "SELECT a.*, s.number, s.date, s.phase, sc.total, sc.band, sc.band_severity, sc.flag_count, sc.data"
            " FROM administrations a JOIN sessions s ON s.id = a.session_id"
            " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
            " WHERE s.course_id = ? AND a.status = 'complete' ORDER BY s.number, a.id", (course[0],)).fetchall()
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "max": max(times), "n": len(times)}


def caseload_library(db, repeat):
    from ipt_measures.plugins import get_registry
    from ipt_measures.review import caseload
    from ipt_measures.store import open_store

    registry = get_registry()
    store = open_store(db)
    rows = caseload(store, registry=registry)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        caseload(store, registry=registry)
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "rows": len(rows), "peak_rss_mb": peak_rss_mb()}


def caseload_floor(db, repeat):
    """The floor: caseload's three set-based queries, as review.caseload words them; rows fetched, nothing else."""
    conn = sqlite3.connect(db)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute("SELECT id, client_id, start_date, planned_sessions, problem_areas FROM courses"
                     " WHERE end_date IS NULL").fetchall()
        conn.execute("SELECT s.course_id, s.number, s.date, s.phase FROM sessions s"
                     " WHERE s.course_id IN (SELECT id FROM courses WHERE end_date IS NULL)").fetchall()
        conn.execute("SELECT s.course_id, s.number, a.instrument_id, sc.total, sc.band, sc.flag_count"
                     " FROM administrations a JOIN sessions s ON s.id = a.session_id"
                     " LEFT JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1"
                     " WHERE s.course_id IN (SELECT id FROM courses WHERE end_date IS NULL) AND +a.status = 'complete'"
                     " ORDER BY s.course_id, s.number, a.id").fetchall()
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times)}


def backup_library(db, dest):
    from ipt_measures.maintenance import backup

    started = time.perf_counter()
    result = backup(dest, db)
    return {"seconds": time.perf_counter() - started, "bytes": result["bytes"], "peak_rss_mb": peak_rss_mb()}


def backup_floor(db, dest):
    """The floor: sqlite3's Connection.backup alone (no integrity check of the copy)."""
    src, dst = sqlite3.connect(db), sqlite3.connect(dest)
    started = time.perf_counter()
    src.backup(dst)
    seconds = time.perf_counter() - started
    return {"seconds": seconds}


# -- scoring ---------------------------------------------------------------------------------------------

# PHQ-9 severity bands (Kroenke, Spitzer & Williams 2001): 0-4, 5-9, 10-14, 15-19, 20-27.
PHQ9_BANDS = ((4, "minimal"), (9, "mild"), (14, "moderate"), (19, "moderately severe"), (27, "severe"))


def _answer_sets(n):
    import random

    r = random.Random(15)
    return [[r.randint(0, 3) for _ in range(9)] for _ in range(n)]


def scoring_library(n, rounds=20):
    """ipt_measures.score on n PHQ-9 answer sets in item order (checks, hooks, bands, critical item 9), and the
    plain sum-and-band loop on the same sets, in alternating rounds in this one process: a busy machine slows
    both alike. The figures are the median time per answer set over the rounds."""
    import statistics

    import ipt_measures

    sets = _answer_sets(n // rounds)
    ipt_measures.score("phq9", sets[0])  # plugins loaded and the plan compiled: start-up, not scoring
    library, floor = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for answers in sets:
            ipt_measures.score("phq9", answers)
        library.append((time.perf_counter() - started) / len(sets))
        floor.append(_floor_round(sets))
    return {"seconds": statistics.median(library), "floor_seconds": statistics.median(floor)}


def _floor_round(sets):
    """The floor: a plain sum-and-band loop over the answer sets; seconds per set."""
    started = time.perf_counter()
    for answers in sets:
        total = sum(answers)
        band = next(label for top, label in PHQ9_BANDS if total <= top)  # noqa: F841 -- computed, as scoring does
    return (time.perf_counter() - started) / len(sets)


def assess_library(n):
    """assess() on n PHQ-9 answer sets given as item -> value, each against one earlier score of the course: the
    score, its alerts (critical item, unanswered risk item, rules, reliable deterioration) and change from baseline,
    as every front end and the import call it. Also times the score alone on the same answers, in the same run."""
    import ipt_measures
    from ipt_measures.assess import assess
    from ipt_measures.plugins import get_registry

    registry = get_registry()
    instrument = registry.instrument("phq9")
    sets = [{str(i): v for i, v in enumerate(answers, start=1)} for answers in _answer_sets(n)]
    baseline = [ipt_measures.score("phq9", [3, 3, 2, 2, 2, 2, 2, 1, 0])]
    assess(instrument, sets[0], baseline, registry=registry)
    started = time.perf_counter()
    for answers in sets:
        assess(instrument, answers, baseline, registry=registry)
    assessed = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for answers in sets:
        registry.score("phq9", answers)
    return {"seconds": assessed, "score_seconds": (time.perf_counter() - started) / n}


def export_one_client(db, repeat, client=None):
    """Export one client (``client``, else the middle one) to csv-long in memory, median of ``repeat``: must not grow
    with the record. ``db`` may be a SQLite file or a PostgreSQL location (benchmarks/server_tasks.py)."""
    import io

    from ipt_measures.exchange.exporting import export
    from ipt_measures.plugins import get_registry
    from ipt_measures.store import open_store

    get_registry()
    store = open_store(db)
    client = client or _sample_clients(db, 2)[-1]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        export(store, "csv-long", io.StringIO(), client_ids=[client])
        times.append(time.perf_counter() - started)
    store.close()
    return {"seconds": statistics.median(times), "client": client}


TASKS = {f.__name__: f for f in (build_demo, import_library, store_library, import_floor, cli, export_library,
                                  export_floor, export_formats, progress_library, progress_floor, caseload_library,
                                  caseload_floor, backup_library, backup_floor, scoring_library,
                                  assess_library, export_one_client)}

if __name__ == "__main__":
    task, args = sys.argv[1], json.loads(sys.argv[2])
    result = TASKS[task](**args)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    print(json.dumps(result))
