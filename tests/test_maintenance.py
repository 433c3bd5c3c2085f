"""`ipt doctor` finds what is wrong and changes nothing; `ipt backup` makes a consistent, owner-only copy."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import date

import pytest

from ipt_measures import demo
from ipt_measures.maintenance import backup, doctor
from ipt_measures.plugins import build_registry, use_registry
from ipt_measures.store import open_store

from conftest import db_digest, ROOT


@pytest.fixture
def demo_db(tmp_path):
    path = tmp_path / "demo.db"
    with open_store(path) as store:
        demo.populate(store, 12, 5, as_of=date(2026, 11, 2))
    return path




def status(checks, name):
    return next(c["status"] for c in checks if c["check"] == name)


def test_doctor_passes_a_sound_database_and_changes_nothing(invoke, demo_db):
    before = db_digest(demo_db)
    result = invoke("doctor", "--db", demo_db, "--json")
    assert result.exit_code == 0, result.output
    assert db_digest(demo_db) == before
    checks = doctor(demo_db)
    for name in ("database", "permissions", "integrity", "references", "schema", "records", "journal"):
        assert status(checks, name) == "ok", checks


def test_doctor_without_a_database_fails_cleanly(invoke, tmp_path):
    result = invoke("doctor", "--db", tmp_path / "none.db")
    assert result.exit_code == 1
    assert "no database at" in result.output
    assert not (tmp_path / "none.db").exists()  # looking does not create it


def test_doctor_warns_on_loose_permissions(invoke, demo_db):
    os.chmod(demo_db, 0o644)
    assert status(doctor(demo_db), "permissions") == "warn"
    assert invoke("doctor", "--db", demo_db).exit_code == 0
    strict = invoke("doctor", "--db", demo_db, "--strict")
    assert strict.exit_code == 1 and "chmod 600" in strict.output


def _checkpoint(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_doctor_finds_a_damaged_index(invoke, demo_db):
    _checkpoint(demo_db)
    conn = sqlite3.connect(demo_db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'scores_administration'").fetchone()[0]
    conn.close()
    with open(demo_db, "r+b") as f:  # scribble over the cells of one index page, as a failing disk might
        f.seek((root - 1) * page_size + page_size // 2)
        f.write(b"\xff\x00" * (page_size // 4))
    checks = doctor(demo_db)
    assert status(checks, "integrity") == "fail", checks
    result = invoke("doctor", "--db", demo_db)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_doctor_on_a_file_that_is_not_a_database(invoke, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"PK\x03\x04 not sqlite at all" * 200)
    result = invoke("doctor", "--db", junk)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert status(doctor(junk), "integrity") == "fail"


def test_doctor_reports_a_newer_schema(demo_db):
    conn = sqlite3.connect(demo_db)
    conn.execute("INSERT INTO schema_migrations VALUES ('9999_future', 'now')")
    conn.commit()
    conn.close()
    assert status(doctor(demo_db), "schema") == "fail"


def test_doctor_reports_plugin_problems(demo_db):
    class Broken:
        __name__ = "broken_plugin"

        from ipt_measures import hookimpl

        @hookimpl
        def register_instruments(self, register):
            raise RuntimeError("half-installed")

    use_registry(build_registry(Broken()))
    checks = doctor(demo_db)
    problem = [c for c in checks if c["check"] == "plugin broken_plugin"]
    assert problem and problem[0]["status"] == "warn" and "half-installed" in problem[0]["detail"]


def test_backup_is_a_complete_owner_only_copy(invoke, demo_db, tmp_path):
    dest = tmp_path / "copy.db"
    result = invoke("backup", dest, "--db", demo_db)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert db_digest(dest) == db_digest(demo_db)
    assert sqlite3.connect(dest).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(tmp_path.glob(".copy.db.*"))  # no partial file left behind


def test_backup_never_overwrites_without_force(invoke, demo_db, tmp_path):
    dest = tmp_path / "precious.db"
    dest.write_bytes(b"yesterday's backup")
    refused = invoke("backup", dest, "--db", demo_db)
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert dest.read_bytes() == b"yesterday's backup"
    forced = invoke("backup", dest, "--db", demo_db, "--force")
    assert forced.exit_code == 0
    assert db_digest(dest) == db_digest(demo_db)


def test_backup_errors_are_one_line(invoke, demo_db, tmp_path):
    for args in ([tmp_path / "no-such-folder" / "b.db"], [demo_db, "--force"], [tmp_path]):
        result = invoke("backup", *args, "--db", demo_db)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
    missing = invoke("backup", tmp_path / "b.db", "--db", tmp_path / "none.db")
    assert missing.exit_code == 3 and "no database" in missing.output


def test_backup_leaves_out_an_uncommitted_transaction(demo_db, tmp_path):
    writer = sqlite3.connect(demo_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO clients (id, created_at) VALUES ('demo-9999', 'now')")
    backup(tmp_path / "b.db", demo_db)  # does not wait for, nor include, the open write
    writer.execute("COMMIT")
    conn = sqlite3.connect(tmp_path / "b.db")
    assert conn.execute("SELECT count(*) FROM clients WHERE id = 'demo-9999'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 12


WRITER = """
import sys
from datetime import date
from ipt_measures import demo
from ipt_measures.store import open_store
store = open_store(sys.argv[1])
print("ready", flush=True)
demo.populate(store, 400, 3, as_of=date(2026, 11, 2), batch_size=50)
"""


@pytest.mark.slow
def test_backup_while_another_process_imports_is_consistent(tmp_path):
    """A real second process imports in batches of 50; every backup holds whole batches only."""
    db = tmp_path / "busy.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "ready"
        seen = []
        for n in range(6):
            time.sleep(0.15)
            dest = tmp_path / f"b{n}.db"
            backup(dest, db)
            conn = sqlite3.connect(dest)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            admins = conn.execute("SELECT count(*) FROM administrations").fetchone()[0]
            # whole batches: every administration has its answers and one current score
            assert conn.execute("SELECT count(*) FROM administrations a WHERE NOT EXISTS"
                                " (SELECT 1 FROM responses r WHERE r.administration_id = a.id)").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM scores WHERE current = 1").fetchone()[0] == admins
            seen.append(admins)
            conn.close()
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    print("backups saw", seen)
    assert seen == sorted(seen) and seen[-1] > 0
