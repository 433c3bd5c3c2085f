"""What row-level security costs the caseload on PostgreSQL: a clinician's and a supervisor's caseload against
the same caseload read by a superuser (who passes every policy), on one record, in one run.

    python benchmarks/roles.py                  # 10,000 clients, 20 clinicians, 4 PHQ-9s per course
    python benchmarks/roles.py --clients 1000   # quicker

Starts a throwaway cluster (tests/pgcluster.py). The floor is the superuser's whole caseload (no policy
evaluated); a clinician sees 1/20 of it, so their aim is to be no slower than the floor (ratio <= 1), and a
supervisor, who sees all of it through a policy of `true`, within 2x of it. Not a test: nothing fails a build.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

CLINICIANS = 20


def fill(conn, clients: int) -> None:
    """Synthetic courses straight into the tables (as the superuser): every client assigned to one of the
    clinicians, a course, four sessions, a PHQ-9 scored at each."""
    conn.execute(
        "INSERT INTO clients (id, created_at, clinician) SELECT 'c' || g, '2024-01-01', 'clin' || (g %% %s)"
        " FROM generate_series(1, %s) g", (CLINICIANS, clients))
    conn.execute(
        "INSERT INTO courses (client_id, start_date, planned_sessions, problem_areas, protocol, created_at,"
        " course_type, clinician) SELECT id, '2024-01-01', 16, '[\"grief\"]', 'ipt-default', '2024-01-01',"
        " 'standard', clinician FROM clients")
    conn.execute(
        "INSERT INTO sessions (course_id, number, date, phase, created_at) SELECT co.id, n, '2024-01-0' || n,"
        " 'initial', '2024-01-01' FROM courses co, generate_series(1, 4) n")
    conn.execute(
        "INSERT INTO administrations (session_id, instrument_id, instrument_version, respondent, status, source,"
        " started_at, finished_at) SELECT id, 'phq9', '1.0.0', 'client', 'complete', 'import', '2024-01-01',"
        " '2024-01-01' FROM sessions")
    conn.execute(
        "INSERT INTO scores (administration_id, current, total, band, band_severity, flag_count, scorer, data,"
        " computed_at) SELECT id, 1, 5 + id % 15, 'moderate', 2, 0, 'builtin', '{}', '2024-01-01'"
        " FROM administrations")
    conn.execute("ANALYZE")


def timed(url: str, repeat: int) -> tuple[float, int]:
    from ipt_measures.review import caseload
    from ipt_measures.store import open_store

    times, rows = [], 0
    with open_store(url) as store:
        for _ in range(repeat):
            start = time.perf_counter()
            rows = len(caseload(store))
            times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from pgcluster import Cluster

    from ipt_measures.store import open_store

    cluster = Cluster().start()
    try:
        db = cluster.new_database()
        with open_store(cluster.url(db)) as store:  # the schema, as the superuser
            for n in range(CLINICIANS):
                store.add_staff(f"clin{n}", "clinician")
            store.add_staff("sup0", "supervisor")
        with cluster.connect(db) as conn:
            fill(conn, args.clients)
        floor, all_rows = timed(cluster.url(db), args.repeat)
        print(f"caseload on {args.clients:,} clients, median of {args.repeat} (PostgreSQL {cluster.bin.parent.name})")
        print(f"{'who':<28}{'rows':>8}{'seconds':>10}{'ratio':>8}")
        print(f"{'superuser (floor)':<28}{all_rows:>8}{floor:>10.3f}{1:>8.2f}")
        for label, user in (("clinician (own caseload)", "clin0"), ("supervisor (everyone's)", "sup0")):
            seconds, rows = timed(cluster.url(db, user=user), args.repeat)
            print(f"{label:<28}{rows:>8}{seconds:>10.3f}{seconds / floor:>8.2f}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
