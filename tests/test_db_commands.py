"""``ipt db upgrade``, ``ipt db copy`` and ``ipt doctor`` on PostgreSQL: a solo record moved into a clinic
server whole and verified, schema upgrades on both engines, the doctor re-scoring every score on the server."""

from __future__ import annotations

import json
import sqlite3

from ipt_measures.store import open_store
from ipt_measures.store.migrations import MIGRATIONS
from ipt_measures.store.sqlite import _statements

from conftest import export_all_formats


def _solo_record(invoke, db):
    """A demo record with what a solo clinician's record holds besides scores: an acknowledged alert, an
    amended answer (a superseded score), an inventory, a goal, a declared name in the audit."""
    assert invoke("demo", "--clients", "6", "--db", db).exit_code == 0
    alerts = json.loads(invoke("alerts", "--json", "--db", db).output)
    assert alerts, "the demo raises alerts"
    done = invoke("alerts", "ack", alerts[0]["id"], "--action", "risk assessed", "--note", "no plan", "--db", db)
    assert done.exit_code == 0, done.output
    client = alerts[0]["client_id"]
    amended = invoke("amend", client, "--administration", alerts[0]["administration_id"], "--item", "1", "--value",
                     "0", "--reason", "misread the item", "--by", "Dr Ada", "--db", db)
    assert amended.exit_code == 0, amended.output
    assert invoke("inventory", client, "add", "partner", "--type", "partner", "--closeness", "inner", "--support", "1",
                  "--conflict", "4", "--contact", "daily", "--db", db).exit_code == 0
    with open_store(db) as store:
        area = (store.active_course(client) or store.courses(client)[-1])["problem_areas"][0]
    goal = invoke("goals", client, "add", "Talk with my partner", "--problem-area", area, "--db", db)
    assert goal.exit_code == 0, goal.output
    return client


def test_db_copy_moves_a_solo_record_whole_and_verifies_it(invoke, pg_url, tmp_path):
    lite = str(tmp_path / "solo.db")
    client = _solo_record(invoke, lite)
    done = invoke("db", "copy", "--from", lite, "--to", pg_url, "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["tables"]["scores"]["rows"] > result["tables"]["administrations"]["rows"]  # the superseded one
    assert "match their answers" in result["scores"]
    with open_store(lite) as solo:
        for table, entry in result["tables"].items():
            assert solo._query(f"SELECT count(*) FROM {table}")[0][0] == entry["rows"], table
        lite_audit = [tuple(r) for r in solo._query("SELECT * FROM audit ORDER BY id")]

    for command in (["alerts", "--all", "--json"], ["audit", client, "--json"], ["inventory", client, "--json"],
                    ["goals", client, "--json"], ["caseload", "--json"]):
        assert invoke(*command, "--db", pg_url).output == invoke(*command, "--db", lite).output, command
    assert export_all_formats(invoke, pg_url) == export_all_formats(invoke, lite)
    with open_store(lite) as solo, open_store(pg_url) as clinic:
        assert [r[0] for r in clinic._query("SELECT name FROM schema_migrations ORDER BY name")] == \
            [r[0] for r in solo._query("SELECT name FROM schema_migrations ORDER BY name")]
        pg_audit = [tuple(r) for r in clinic._query(
            "SELECT id, at, actor, client_id, action, entity, entity_id, field, old_value, new_value, reason,"
            " declared_actor FROM audit WHERE id <= ? ORDER BY id", (lite_audit[-1][0] + 1,))]
        copied = [r for r in pg_audit if r[4] == "record copied"]
        assert [r for r in pg_audit if r[4] != "record copied"] == lite_audit
        assert any(r[-1] == "Dr Ada" for r in lite_audit)
        assert len(copied) == 1 and copied[0][2] == "postgres" and "solo.db" in copied[0][9]
        # Answers keep the order they were entered in.
        assert [tuple(r) for r in solo._query("SELECT administration_id, item_id FROM responses ORDER BY rowid")] == \
            [tuple(r) for r in clinic._query("SELECT administration_id, item_id FROM responses ORDER BY entry_order")]
        # The sequences moved past the copied ids: new rows on the server take new ids.
        clinic.add_client("c-new")
        course = clinic.start_course("c-new", "2026-11-02", 12, ["grief"], None)
        session = clinic.add_session(course["id"], 1, "2026-11-02", "initial")
        admin = clinic.start_administration(session["id"], "phq9", "1", "self-report")
        assert admin > result["tables"]["administrations"]["rows"]
    doctor = invoke("doctor", "--db", pg_url, "--json")
    assert doctor.exit_code == 0, doctor.output
    assert {c["check"]: c["status"] for c in json.loads(doctor.output)}["scores"] == "ok"


def test_db_copy_refuses_a_target_that_holds_anything_and_changes_nothing(invoke, pg_url, tmp_path):
    lite = str(tmp_path / "solo.db")
    assert invoke("demo", "--clients", "2", "--db", lite).exit_code == 0
    assert invoke("clients", "add", "c1", "--db", pg_url).exit_code == 0
    done = invoke("db", "copy", "--from", lite, "--to", pg_url)
    assert done.exit_code != 0
    assert "already holds a record" in done.output and "Traceback" not in done.output
    with open_store(pg_url) as clinic:
        assert [c["id"] for c in clinic.list_clients()] == ["c1"]
    # A copy that went through once is not run over again either.
    other = str(tmp_path / "other.db")
    assert invoke("demo", "--clients", "1", "--db", other).exit_code == 0
    assert invoke("db", "copy", "--from", lite, "--to", pg_url.replace("postgres@", "postgres@", 1)).exit_code != 0


def test_db_copy_refuses_a_password_a_missing_source_and_a_file_target(invoke, pg_url, tmp_path):
    lite = str(tmp_path / "solo.db")
    assert invoke("demo", "--clients", "1", "--db", lite).exit_code == 0
    with_password = pg_url.replace("postgres@", "postgres:hunter2@", 1)
    cases = {
        "password": (["--from", lite, "--to", with_password], "password does not belong in a database location (--db, --to"),
        "missing": (["--from", str(tmp_path / "nope.db"), "--to", pg_url], "no SQLite record at"),
        "file target": (["--from", lite, "--to", str(tmp_path / "x.db")], "--to takes a postgresql://"),
        "server source": (["--from", pg_url, "--to", pg_url], "--from takes a SQLite record file"),
    }
    for name, (args, message) in cases.items():
        done = invoke("db", "copy", *args)
        assert done.exit_code != 0, name
        assert message in done.output and "hunter2" not in done.output and "Traceback" not in done.output, name
    with open_store(pg_url) as clinic:
        assert clinic.list_clients() == []


def test_db_copy_that_fails_its_check_keeps_nothing(invoke, pg_url, tmp_path):
    lite = tmp_path / "solo.db"
    assert invoke("demo", "--clients", "2", "--db", lite).exit_code == 0
    conn = sqlite3.connect(lite)  # a score that contradicts its own answers
    conn.execute("UPDATE scores SET data = json_set(data, '$.total.value', 99), total = 99"
                 " WHERE id = (SELECT min(id) FROM scores WHERE total IS NOT NULL)")
    conn.commit()
    conn.close()
    done = invoke("db", "copy", "--from", lite, "--to", pg_url)
    assert done.exit_code != 0
    assert "fails its check" in done.output and "stored total 99" in done.output
    assert len(done.output.strip().splitlines()) == 1
    with open_store(pg_url) as clinic:
        assert clinic._query("SELECT count(*) FROM administrations")[0][0] == 0
        assert clinic._query("SELECT count(*) FROM audit")[0][0] == 0


def _older_sqlite_record(path, upto="0005_audit_declared_actor"):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, sql in MIGRATIONS:
        for statement in _statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2026-01-01')", (name,))
        if name == upto:
            break
    conn.commit()
    conn.close()


def test_db_upgrade_on_sqlite_applies_what_is_pending_then_nothing(invoke, tmp_path):
    db = tmp_path / "old.db"
    _older_sqlite_record(db)
    done = invoke("db", "upgrade", "--db", db, "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    names = [n for n, _ in MIGRATIONS]
    assert result["applied"] == names[names.index("0005_audit_declared_actor") + 1:]
    assert result["version"] == names[-1] and result["engine"] == "sqlite"
    again = invoke("db", "upgrade", "--db", db)
    assert again.exit_code == 0 and f"is already at {names[-1]}" in again.output
    missing = invoke("db", "upgrade", "--db", tmp_path / "none.db")
    assert missing.exit_code != 0 and "no database at" in missing.output
    assert not (tmp_path / "none.db").exists()


def test_db_upgrade_on_postgresql_applies_every_migration_once(invoke, pg_url):
    done = invoke("db", "upgrade", "--db", pg_url, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["applied"] == [n for n, _ in MIGRATIONS]
    again = invoke("db", "upgrade", "--db", pg_url)
    assert again.exit_code == 0 and f"is already at {MIGRATIONS[-1][0]}" in again.output


def test_db_upgrade_by_a_clinician_role_says_who_may_in_one_line(invoke, pg_cluster):
    name = pg_cluster.new_database()
    try:
        with pg_cluster.connect(name) as conn:
            conn.execute("DROP ROLE IF EXISTS upgrade_clinician")
            conn.execute("CREATE ROLE upgrade_clinician LOGIN")
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        done = invoke("db", "upgrade", "--db", pg_cluster.url(name, user="upgrade_clinician"))
        assert done.exit_code != 0
        assert "upgrade_clinician may not change the schema" in done.output and "ipt db upgrade" in done.output
        assert len(done.output.strip().splitlines()) == 1 and "Traceback" not in done.output
    finally:
        pg_cluster.drop_database(name)
        with pg_cluster.connect() as conn:
            conn.execute("DROP ROLE IF EXISTS upgrade_clinician")


def _doctor(invoke, url):
    done = invoke("doctor", "--db", url, "--json")
    return done.exit_code, {c["check"]: c for c in json.loads(done.output)}


def test_doctor_on_postgresql_rescores_every_score_and_finds_a_tampered_one(invoke, pg_url, pg_cluster):
    assert invoke("demo", "--clients", "3", "--db", pg_url).exit_code == 0
    code, checks = _doctor(invoke, pg_url)
    assert code == 0 and checks["scores"]["status"] == "ok"
    with open_store(pg_url) as clinic:
        administrations = clinic._query("SELECT count(*) FROM administrations WHERE status = 'complete'")[0][0]
    assert checks["scores"]["detail"].startswith(f"{administrations} stored score(s) match")
    assert checks["records"]["detail"].startswith("3 clients")
    dbname = pg_url.split("/")[3].split("?")[0]
    with pg_cluster.connect(dbname) as conn:  # as the superuser, behind the store's back: the column the caseload reads
        conn.execute("UPDATE scores SET total = 99 WHERE id = (SELECT min(id) FROM scores WHERE total IS NOT NULL)")
    code, checks = _doctor(invoke, pg_url)
    assert code == 1 and checks["scores"]["status"] == "fail"
    assert "its total column says 99, its score data" in checks["scores"]["detail"]
    with pg_cluster.connect(dbname) as conn:  # and the score's data with it
        conn.execute("UPDATE scores SET data = jsonb_set(data::jsonb, '{total,value}', '99')::text WHERE total = 99")
    code, checks = _doctor(invoke, pg_url)
    assert code == 1 and checks["scores"]["status"] == "fail" and "stored total 99" in checks["scores"]["detail"]


def test_doctor_finds_a_total_column_that_disagrees_with_its_score_on_sqlite(invoke, tmp_path):
    db = tmp_path / "r.db"
    assert invoke("demo", "--clients", "2", "--db", db).exit_code == 0
    assert invoke("doctor", "--db", db).exit_code == 0
    conn = sqlite3.connect(db)
    conn.execute("UPDATE scores SET band = 'minimal' WHERE id = (SELECT min(id) FROM scores WHERE band <> 'minimal')")
    conn.commit()
    conn.close()
    done = invoke("doctor", "--db", db, "--json")
    scores = {c["check"]: c for c in json.loads(done.output)}["scores"]
    assert done.exit_code == 1 and scores["status"] == "fail" and "its band column says 'minimal'" in scores["detail"]


def test_doctor_on_postgresql_checks_indexes_with_amcheck_and_every_reference(invoke, pg_url, pg_cluster):
    assert invoke("demo", "--clients", "2", "--db", pg_url).exit_code == 0
    code, checks = _doctor(invoke, pg_url)
    assert "amcheck is not installed" in checks["integrity"]["detail"]
    dbname = pg_url.split("/")[3].split("?")[0]
    with pg_cluster.connect(dbname) as conn:
        conn.execute("CREATE EXTENSION amcheck")
    code, checks = _doctor(invoke, pg_url)
    assert code == 0 and checks["integrity"]["status"] == "ok"
    assert checks["integrity"]["detail"].startswith("amcheck bt_index_check of ")
    assert checks["references"]["status"] == "ok"
    with pg_cluster.connect(dbname) as conn:  # a restore without its foreign keys, say
        conn.execute("ALTER TABLE responses DISABLE TRIGGER ALL")
        conn.execute("INSERT INTO responses (administration_id, item_id, value, status, answered_at)"
                     " VALUES (999999, '1', 1, 'answered', '2026-11-02')")
    code, checks = _doctor(invoke, pg_url)
    assert code == 1 and checks["references"]["status"] == "fail"
    assert checks["references"]["detail"].startswith("1 row(s)")


def test_backup_of_a_postgresql_record_points_to_pg_dump(invoke, pg_url, tmp_path):
    done = invoke("backup", tmp_path / "b.db", "--db", pg_url)
    assert done.exit_code != 0 and "pg_dump" in done.output and not (tmp_path / "b.db").exists()
