"""The clinic-server figures of issue 12, on both engines side by side, each against its bare-driver floor.

    python benchmarks/engines.py            # 100,000 administrations; a 10,000-client record (about 10 min)
    python benchmarks/engines.py --quick    # small sizes, about a minute: checks the machinery, not the aims
    python benchmarks/engines.py --engines postgresql

For each engine: import + score + store of N administrations against the same rows written by the bare
driver (sqlite3 executemany; psycopg COPY) into the same schema; ``ipt caseload``'s queries and an export of
one client on a 10,000-client record against the same queries through the bare driver. PostgreSQL runs on a
throwaway cluster started here as the tests start theirs (tests/pgcluster.py), with fsync on (a real server's
durability) and removed after. Every task runs in a fresh child process. Not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from run import Row, machine, print_table, ratio_row, sec, task  # noqa: E402

SERVER_TASKS = HERE / "server_tasks.py"
FULL = {"import_n": 100_000, "review_clients": 10_000, "repeat": 5, "one_client_repeat": 50}
QUICK = {"import_n": 5_000, "review_clients": 500, "repeat": 3, "one_client_repeat": 20}
# A real server's durability for the figures (the tests' cluster turns fsync off), and room for the record.
SERVER_SETTINGS = "-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_wal_size=2GB"


def run_engine(engine: str, sizes: dict, work: Path, env: dict, say, cluster=None) -> list[Row]:
    rows: list[Row] = []
    run = lambda name, **args: task(name, env, script=SERVER_TASKS, **args)  # noqa: E731

    def location(name: str) -> str:
        if cluster is None:
            path = work / f"{name}.db"
            for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                p.unlink(missing_ok=True)
            return str(path)
        return cluster.url(cluster.new_database())

    label = "PostgreSQL" if cluster else "SQLite"
    floor = "psycopg COPY, same rows" if cluster else "sqlite3 executemany, same rows"
    n = sizes["import_n"]
    say(f"{label}: import + score + store of {n:,} administrations, store only, and the floor")
    lib = run("import_library", db=location("import-lib"), n=n)
    stored = run("store_library", db=location("import-store"), n=n)
    bare = run("import_floor_copy" if cluster else "import_floor", db=location("import-floor"), n=n)
    rows.append(ratio_row(f"{label}: import+score+store {n:,} administrations",
                          f"{sec(lib['seconds'])} ({n / lib['seconds']:,.0f}/s)", floor, None, lib["seconds"],
                          bare["seconds"], "<= 2x", 2, fmt=sec))
    rows.append(ratio_row(f"{label}: store only, bulk_import {n:,} scored", None, floor, None, stored["seconds"],
                          bare["seconds"], "-", fmt=sec))

    k = sizes["review_clients"]
    db = location(f"review-{k}")
    say(f"{label}: building a {k:,}-client record")
    built = run("build_demo", db=db, clients=k, shape="clinic")
    say(f"  {built['administrations']:,} administrations in {built['seconds']:.0f} s")
    driver = "psycopg" if cluster else "sqlite3"
    c = run("caseload_library", db=db, repeat=sizes["repeat"])
    cf = run("caseload_floor_any", db=db, repeat=sizes["repeat"])
    rows.append(ratio_row(f"{label}: caseload, library ({c['rows']:,} active courses, {k:,} clients)", None,
                          f"bare {driver}, same 3 queries", None, c["seconds"], cf["seconds"], "<= 2x", 2))
    cc = run("cli", args=["caseload", "--db", db])
    help_ = run("cli", args=["--help"])
    rows.append(ratio_row(f"{label}: ipt caseload, whole command", None, "ipt --help", None, cc["seconds"],
                          help_["seconds"], "-"))
    e = run("export_client_library", db=db, repeat=sizes["one_client_repeat"])
    ef = run("export_client_floor", db=db, repeat=sizes["one_client_repeat"])
    rows.append(ratio_row(f"{label}: export one client csv-long, {k:,}-client record", None,
                          f"bare {driver}, same query, csv module", None, e["seconds"], ef["seconds"], "<= 2x", 2))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--workdir", help="keep the SQLite files here (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ipt-bench-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IPT_DATA_DIR": str(work / "data"), "IPT_DB": str(work / "data" / "ipt.db"),
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("IPT_DEBUG", None)
    started = time.perf_counter()

    def say(text):
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    rows: list[Row] = []
    cluster = None
    try:
        for engine in args.engines.split(","):
            if engine == "postgresql":
                from pgcluster import Cluster

                say("starting a throwaway PostgreSQL cluster")
                cluster = Cluster(options=SERVER_SETTINGS).start()
            rows += run_engine(engine, sizes, work, env, say, cluster if engine == "postgresql" else None)
    finally:
        if cluster is not None:
            cluster.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    info = machine()
    print_table(rows, info, args.quick, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
