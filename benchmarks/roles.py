"""What row-level security costs the caseload on PostgreSQL: a clinician's and a supervisor's caseload against
the same caseload read by a superuser (who passes every policy), on one record, in one run.

    python benchmarks/roles.py                        # 10,000 clients, 25 per clinician, 4 PHQ-9s per course
    python benchmarks/roles.py --clients 1000         # quicker
    python benchmarks/roles.py --per-clinician 500    # an (unrealistically) large caseload per clinician

Starts a throwaway cluster (tests/pgcluster.py). The floors are the superuser's (no policy evaluated): the
whole caseload, and one client's screen (`ipt clients show`). A clinician's caseload is theirs only, so its aim
is to be no slower than the floor (ratio <= 1); a supervisor, who sees all of it through a policy of `true`,
within 2x. One client's screen: within 2x for both. A clinician's policies test each row against their own
caseload's ids (ipt_caseload, migration 0011), so the cost of their queries grows with their caseload, not
with the record. Not a test: nothing fails a build.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PER_CLINICIAN = 25  # a full-time IPT clinician's caseload is some 20-30 clients


def fill(conn, clients: int, clinicians: int) -> None:
    """Synthetic courses straight into the tables (as the superuser): every client assigned to one of the
    clinicians, a course, four sessions, a PHQ-9 scored at each."""
    conn.execute(
        "INSERT INTO clients (id, created_at, clinician) SELECT 'c' || g, '2024-01-01', 'clin' || (g %% %s)"
        " FROM generate_series(1, %s) g", (clinicians, clients))
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


def timed(url: str, repeat: int, clinicians: int) -> tuple[float, int, float]:
    """The caseload (median seconds, rows) and one client's screen (`ipt clients show`, of a client of
    clin0: each of its reads goes through the policies' chain, client -> course -> session -> administration)."""
    from ipt_measures.record import client_summary
    from ipt_measures.review import caseload
    from ipt_measures.store import open_store

    times, rows, one = [], 0, []
    with open_store(url) as store:
        for _ in range(repeat):
            start = time.perf_counter()
            rows = len(caseload(store))
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            client_summary(store, f"c{clinicians}")
            one.append(time.perf_counter() - start)
    return statistics.median(times), rows, statistics.median(one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--per-clinician", type=int, default=PER_CLINICIAN)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clinicians = max(1, args.clients // args.per_clinician)
    from pgcluster import Cluster

    from ipt_measures.store import open_store

    cluster = Cluster().start()
    try:
        db = cluster.new_database()
        with open_store(cluster.url(db)) as store:  # the schema, as the superuser
            for n in range(clinicians):
                store.add_staff(f"clin{n}", "clinician")
            store.add_staff("sup0", "supervisor")
        with cluster.connect(db) as conn:
            fill(conn, args.clients, clinicians)
        floor, all_rows, one_floor = timed(cluster.url(db), args.repeat, clinicians)
        print(f"caseload and one client's screen on {args.clients:,} clients, median of {args.repeat} "
              f"and {clinicians} clinicians (PostgreSQL {cluster.bin.parent.name})")
        print(f"{'who':<28}{'rows':>8}{'caseload s':>12}{'ratio':>8}{'client s':>10}{'ratio':>8}")
        print(f"{'superuser (floor)':<28}{all_rows:>8}{floor:>12.3f}{1:>8.2f}{one_floor:>10.4f}{1:>8.2f}")
        for label, user in (("clinician (own caseload)", "clin0"), ("supervisor (everyone's)", "sup0")):
            seconds, rows, one = timed(cluster.url(db, user=user), args.repeat, clinicians)
            print(f"{label:<28}{rows:>8}{seconds:>12.3f}{seconds / floor:>8.2f}{one:>10.4f}{one / one_floor:>8.2f}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
