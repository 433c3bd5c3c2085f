"""Bulk import into PostgreSQL (COPY): the same record as SQLite makes of the same records, re-runs skip,
a second active course is refused, counts move only when a batch commits, ids come from the sequences."""

from __future__ import annotations

from datetime import date

import pytest

from ipt_measures import demo
from ipt_measures.errors import StoreError, UsageError
from ipt_measures.store import open_store

from conftest import export_all_formats

AS_OF = date(2026, 11, 2)


def _records(clients=6, seed=3):
    return list(demo.generate(clients, seed, as_of=AS_OF))


def test_bulk_import_on_postgresql_makes_the_record_sqlite_makes(invoke, pg_url, tmp_path, monkeypatch):
    # The import stamps what it creates (computed_at, raised_at) with the time: the same moment for both.
    monkeypatch.setattr("ipt_measures.store.bulk.now", lambda: "2026-11-02T10:00:00+00:00")
    records = _records()
    lite_db = str(tmp_path / "lite.db")
    with open_store(lite_db) as lite:
        lite_counts = lite.bulk_import(records, batch_size=50)
    with open_store(pg_url) as pg:
        pg_counts = pg.bulk_import(records, batch_size=50)
        assert pg.alerts(include_acknowledged=True), "the demo's critical items raise alerts"
        pg_alerts = [(a["client_id"], a["item_id"], a["kind"], a["severity"]) for a in pg.alerts(include_acknowledged=True)]
    with open_store(lite_db) as lite:
        lite_alerts = [(a["client_id"], a["item_id"], a["kind"], a["severity"]) for a in lite.alerts(include_acknowledged=True)]
    assert pg_counts == lite_counts and pg_counts["stored"] == len(records)
    assert pg_alerts == lite_alerts
    assert export_all_formats(invoke, pg_url) == export_all_formats(invoke, lite_db)
    client = records[len(records) // 2]["client_id"]  # one client's export: the few-clients path
    for fmt in ("csv-long", "json", "fhir"):
        one = [invoke("export", client, "--format", fmt, "--db", db).output for db in (pg_url, lite_db)]
        assert one[0] == one[1] and client in one[0], fmt


def test_bulk_import_on_postgresql_rerun_skips_what_is_stored(pg_url):
    records = _records(clients=3)
    with open_store(pg_url) as pg:
        first = pg.bulk_import(records[:40], batch_size=16)
        again = pg.bulk_import(records, batch_size=16)
        assert first["stored"] == 40
        assert again["stored"] == len(records) - 40 and again["skipped"] == 40
        assert again["clients"] + first["clients"] == 3
        assert pg._query("SELECT count(*) FROM administrations")[0][0] == len(records)
        imported = pg._query("SELECT actor, declared_actor, action FROM audit WHERE action = 'imported'")
        assert imported and {r[0] for r in imported} == {"postgres"}  # the server's session_user


def test_bulk_import_on_postgresql_takes_ids_from_the_sequences(pg_url):
    with open_store(pg_url) as pg:
        pg.add_client("c1")
        course = pg.start_course("c1", "2026-01-05", 12, ["grief"], None)
        session = pg.add_session(course["id"], 1, "2026-01-05", "initial")
        first = pg.start_administration(session["id"], "phq9", "1", "self-report")  # an id
        counts = pg.bulk_import(_records(clients=2), batch_size=25)
        # An administration started after the import takes the sequence's next value: no id collides.
        later = pg.start_administration(session["id"], "gad7", "1", "self-report")
        top = pg._query("SELECT max(id) FROM administrations")[0][0]
        assert later == top and first < later
        assert pg._query("SELECT count(*) FROM administrations")[0][0] == counts["stored"] + 2
        pg.add_client("c2")
        pg.start_course("c2", "2026-02-02", 12, ["grief"], None)  # courses and sessions too


def _course_record(client, start, key, number=1, end_date=None):
    return {
        "client_id": client,
        "course": {"start_date": start, "planned_sessions": 12, "problem_areas": ["grief"], "protocol": None,
                   **({"end_date": end_date, "end_reason": "completed"} if end_date else {})},
        "session": {"number": number, "date": start, "phase": "initial"},
        "administration": {"instrument_id": "x", "instrument_version": "1", "respondent": "self-report",
                           "import_key": key},
        "responses": [("1", 2, "answered")],
        "score": {"instrument_id": "x", "scorer": "x", "total": {"id": "total", "value": 2, "band": None},
                  "subscales": [], "flags": []},
    }


@pytest.mark.parametrize("already_stored", [True, False], ids=["in-the-record", "in-the-same-batch"])
def test_bulk_import_on_postgresql_refuses_a_second_active_course(pg_url, already_stored):
    with open_store(pg_url) as pg:
        if already_stored:
            pg.bulk_import([_course_record("c9", "2026-01-05", "k1")])
        batch = [_course_record("c8", "2026-01-05", "k0"), _course_record("c9", "2026-01-05", "k1"),
                 _course_record("c9", "2026-03-02", "k2")]
        with pytest.raises(UsageError, match="'c9' already has an active course"):
            pg.bulk_import(batch)
        # nothing of that batch was stored
        assert pg._query("SELECT count(*) FROM clients WHERE id = 'c8'")[0][0] == 0
        assert pg._query("SELECT count(*) FROM courses")[0][0] == (1 if already_stored else 0)
        # an ended course beside the active one is history, not a second active course
        counts = pg.bulk_import([_course_record("c9", "2025-01-06", "k3", end_date="2025-04-01"),
                                 _course_record("c9", "2026-01-05", "k1")])
        assert counts["courses"] == (1 if already_stored else 2)


def test_bulk_import_on_postgresql_counts_only_what_committed(pg_url):
    records = _records(clients=3)

    def interrupted():
        for n, record in enumerate(records):
            if n == 25:  # the second batch is half read: its transaction never commits
                raise KeyboardInterrupt
            yield record

    counts: dict = {}
    with open_store(pg_url) as pg:
        with pytest.raises(KeyboardInterrupt):
            pg.bulk_import(interrupted(), batch_size=10, counts=counts)
        assert counts["stored"] == 20
        assert pg._query("SELECT count(*) FROM administrations")[0][0] == 20
        # A failure inside a batch's transaction (here: the server refuses a row) rolls the batch back too.
        bad = dict(records[30], administration={**records[30]["administration"], "respondent": None})
        with pytest.raises(StoreError):
            pg.bulk_import(records[20:30] + [bad], batch_size=100, counts=counts)
        assert counts["stored"] == 20
        assert pg._query("SELECT count(*) FROM administrations")[0][0] == 20
        rest = pg.bulk_import(records)
        assert rest["skipped"] == 20 and rest["stored"] == len(records) - 20
