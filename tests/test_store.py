"""The record store on its own: schema, permissions, WAL, amendments kept, nothing overwritten silently."""

import stat

import pytest

from ipt_measures.errors import NotFound, StoreError, UsageError
from ipt_measures.store import open_store
from ipt_measures.store.migrations import MIGRATIONS

from conftest import Raw, peek


@pytest.fixture
def store(engine):
    with open_store(engine) as s:
        yield s


@pytest.fixture
def sqlite_store(tmp_path):
    """For what only a SQLite file has: its mode, WAL and SQLite's own migrations list."""
    with open_store(tmp_path / "t.db") as s:
        yield s


def course_with_session(store):
    store.add_client("c1")
    course = store.start_course("c1", "2026-01-05", 16, ["grief"], "ipt-default")
    session = store.add_session(course["id"], 1, "2026-01-05", "initial")
    return course, session


def score_json(total, flags=()):
    return {"instrument": "x", "instrument_version": "1", "scorer": "test/1",
            "total": {"id": "total", "name": "t", "value": total, "band": None, "band_severity": None,
                      "answered": 2, "missing": 0, "prorated": False, "note": None},
            "subscales": [], "flags": list(flags)}


def fake_score(total, flags=()):
    """The store's evaluate callback, (administration, responses) -> (score, alerts), with a fixed total."""
    return lambda admin, responses: (score_json(total, flags), [])


def test_database_file_is_owner_only_and_wal(tmp_path, sqlite_store):
    mode = stat.S_IMODE((tmp_path / "t.db").stat().st_mode)
    assert mode == 0o600
    assert sqlite_store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite_store.schema_version() == MIGRATIONS[-1][0]


def test_migrations_are_applied_once(engine, store):
    assert store.schema_version() == MIGRATIONS[-1][0]  # the same names on both engines (test_postgres.py)
    with open_store(engine) as again:
        assert again.migrate() == []


def test_newer_schema_is_refused(engine, store):
    with Raw(engine) as raw:
        raw.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future', 'now')")
    with pytest.raises(StoreError, match="newer ipt-measures"):
        open_store(engine)


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not an ipt-measures database|cannot open"):
        open_store(path)


def test_course_rules(store):
    # The IPT rules (course length, problem areas) are the services' (domain.py, tests/test_domain.py);
    # the store keeps only what protects the record: one active course, an existing client.
    store.add_client("c1")
    store.start_course("c1", "2026-01-05", 12, ["grief", "role-disputes"], None)
    with pytest.raises(UsageError, match="already has an active course"):
        store.start_course("c1", "2026-01-05", 12, ["grief"], None)
    with pytest.raises(NotFound):
        store.start_course("nobody", "2026-01-05", 12, ["grief"], None)


def test_responses_commit_immediately_and_completion_locks_them(engine, store):
    course, session = course_with_session(store)
    admin = store.start_administration(session["id"], "x", "1", "self-report")
    store.record_response(admin, "1", 2)
    # A second connection (another process) sees the answer at once.
    assert peek(engine, "SELECT value FROM responses WHERE item_id = '1'") == [(2,)]
    store.record_response(admin, "1", 1)  # going back while in progress replaces
    store.record_response(admin, "2", None, "declined")
    store.complete_administration(admin, fake_score(1))
    with pytest.raises(UsageError, match="correct it with an amendment"):
        store.record_response(admin, "1", 3)
    assert store.responses(admin)["2"]["status"] == "declined"


def test_amendment_keeps_old_and_new_and_supersedes_the_score(store):
    course, session = course_with_session(store)
    admin = store.start_administration(session["id"], "x", "1", "self-report")
    store.record_response(admin, "1", 2)
    store.complete_administration(admin, fake_score(2))
    with pytest.raises(UsageError, match="needs a reason"):
        store.amend_response(admin, "1", 0, "answered", " ", fake_score(0))
    store.amend_response(admin, "1", 0, "answered", "client misread item", fake_score(0))
    history = store.score_history(admin)
    assert [(h["total"], h["current"]) for h in history] == [(2, 0), (0, 1)]
    trail = store.audit_trail("c1")
    amendment = next(a for a in trail if a["action"] == "amendment")
    assert (amendment["old_value"], amendment["new_value"], amendment["reason"]) == ("2", "0", "client misread item")
    assert any(a["action"] == "score recomputed" and a["old_value"] == "2.0" for a in trail)


def test_session_date_amendment_is_audited(store):
    course, session = course_with_session(store)
    store.amend_session(session["id"], "date", "2026-01-06", "typed the wrong day")
    assert store.get_session(session["id"])["date"] == "2026-01-06"
    entry = store.audit_trail("c1")[-1]
    assert (entry["field"], entry["old_value"], entry["new_value"]) == ("date", "2026-01-05", "2026-01-06")


def bulk_record(client, number, key, total=5):
    return {
        "client_id": client,
        "course": {"start_date": "2026-01-05", "planned_sessions": 12, "problem_areas": ["grief"], "protocol": None},
        "session": {"number": number, "date": f"2026-01-{4 + number:02d}", "phase": "initial"},
        "administration": {"instrument_id": "x", "instrument_version": "1", "respondent": "self-report",
                           "import_key": key},
        "responses": [("1", 2, "answered"), ("2", None, "skipped")],
        "score": score_json(total),
    }


def test_bulk_import_creates_the_record_and_reruns_without_duplicates(store, needs_bulk):
    records = [bulk_record("a", n, f"a-{n}") for n in (1, 2, 3)] + [bulk_record("b", 1, "b-1")]
    counts = store.bulk_import(records, batch_size=2)
    assert counts == {"stored": 4, "skipped": 0, "clients": 2, "courses": 2, "sessions": 4}
    again = store.bulk_import(records + [bulk_record("b", 2, "b-2")], batch_size=3)
    assert again == {"stored": 1, "skipped": 4, "clients": 0, "courses": 0, "sessions": 1}
    course = store.courses("a")[0]
    rows = store.administrations(course["id"])
    assert [(r["session_number"], r["total"], r["status"]) for r in rows] == [(1, 5, "complete"), (2, 5, "complete"), (3, 5, "complete")]
    assert store.responses(rows[0]["id"])["2"]["status"] == "skipped"
    assert store.audit_trail("a")[0]["action"] == "imported"
