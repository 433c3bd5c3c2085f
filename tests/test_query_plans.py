"""Query plans that must not grow with the record: checked with EXPLAIN QUERY PLAN, never with a timer.

Exporting one client started from ``administrations_status`` (an index on a column that is 'complete' for
nearly every row), so it read every completed administration of the record: 71 ms on 10,000 clients against
0.15 ms from the client's own rows. Migration 0008 drops that index; bulk work refreshes the statistics.
"""

from __future__ import annotations

from datetime import date

import pytest

from ipt_measures import demo
from ipt_measures.store import open_store
from ipt_measures.store.sqlite import ANALYZE_AFTER, EXPORT_SELECT


@pytest.fixture
def filled(tmp_path):
    with open_store(tmp_path / "plan.db") as store:
        counts = store.bulk_import(demo.generate(80, 3, first=1, as_of=date(2026, 11, 2)))
        assert counts["stored"] >= ANALYZE_AFTER
        yield store


def plan(store, sql, params):
    return [row[3] for row in store._conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def one_client_export_plan(store):
    """The plan of store.export_rows for one client: its query, its client filter, its order."""
    return plan(store, EXPORT_SELECT + " AND c.id IN (?) ORDER BY c.id, co.start_date, co.id, s.number, a.id",
                ["demo-0007"])


@pytest.mark.parametrize("statistics", [True, False])
def test_exporting_one_client_starts_from_the_client(filled, statistics):
    if statistics:
        steps = one_client_export_plan(filled)
    else:  # a record nobody has analysed yet must get the same plan (a fresh connection reads no statistics)
        filled._conn.execute("DROP TABLE IF EXISTS sqlite_stat1")
        with open_store(filled.path) as store:
            steps = one_client_export_plan(store)
    assert steps[0].startswith("SEARCH c "), steps
    assert not any("administrations_status" in s or s.startswith("SCAN a") for s in steps), steps


def test_the_status_index_is_replaced_by_one_on_open_administrations(filled):
    names = {r[0] for r in filled._conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "administrations_status" not in names and "administrations_in_progress" in names
    steps = plan(filled, "SELECT count(*) FROM administrations WHERE status = 'in-progress'", [])
    assert any("administrations_in_progress" in s for s in steps), steps


def test_bulk_import_refreshes_the_planner_statistics(filled):
    tables = {r[0] for r in filled._conn.execute("SELECT tbl FROM sqlite_stat1")}
    assert {"administrations", "responses", "scores", "sessions"} <= tables


def test_a_small_import_leaves_the_statistics_alone(tmp_path):
    with open_store(tmp_path / "small.db") as store:
        store.bulk_import(demo.generate(2, 3, first=1, as_of=date(2026, 11, 2)))
        assert not store._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall()
