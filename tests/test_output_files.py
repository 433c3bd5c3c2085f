"""No command destroys a file it was not asked to (issue 10 part 4), and the audit says who, truthfully,
and covers reading (issue 10 part 7). Each test reproduces a finding of the issue."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import db_digest


@pytest.fixture
def victim(invoke, tmp_path):
    db = tmp_path / "victim.db"
    assert invoke("clients", "add", "c1", "--db", db).exit_code == 0
    assert invoke("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05", "--db", db).exit_code == 0
    assert invoke("session", "start", "c1", "--date", "2026-01-05", "--db", db).exit_code == 0
    assert invoke("administer", "c1", "phq9", "--answers", "1,1,1,1,1,1,1,1,0,1", "--db", db).exit_code == 0
    return db


def _refused(result, *words):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and result.output.strip().splitlines()[-1].startswith("Error:")
    for word in words:
        assert word in result.output, result.output


@pytest.mark.parametrize("force", [False, True])
def test_export_never_replaces_the_open_database(invoke, victim, tmp_path, force):
    before = db_digest(victim)
    link = tmp_path / "innocent.csv"
    link.symlink_to(victim)
    extra = ["--force"] if force else []
    for target in (victim, link, tmp_path / "." / "victim.db", tmp_path / "victim.db-wal"):
        _refused(invoke("export", "--all", "--db", victim, "-o", target, *extra), "the open database")
    assert db_digest(victim, check_integrity=True) == before and link.is_symlink()


def test_report_never_replaces_the_open_database(invoke, victim, tmp_path):
    before = db_digest(victim)
    link = tmp_path / "c1.html"
    link.symlink_to(victim)
    _refused(invoke("report", "c1", "--db", victim, "-o", link, "--force"), "the open database")
    assert db_digest(victim, check_integrity=True) == before


def test_export_never_replaces_the_key_file(invoke, victim, tmp_path):
    key = tmp_path / "k.key"
    first = invoke("export", "--all", "--db", victim, "--deidentify", "--key-file", key, "-o", tmp_path / "a.csv")
    assert first.exit_code == 0 and key.exists()
    secret = key.read_bytes()
    for extra in ([], ["--force"]):
        _refused(invoke("export", "--all", "--db", victim, "--deidentify", "--key-file", key, "-o", key, *extra),
                 "the key file")
    assert key.read_bytes() == secret
    # and a fresh key is never created and then overwritten in one command
    fresh = tmp_path / "fresh.key"
    _refused(invoke("export", "--all", "--db", victim, "--deidentify", "--key-file", fresh, "-o", fresh), "the key file")
    assert not fresh.exists()


@pytest.mark.parametrize("command", [["export", "--all"], ["report", "c1"]])
def test_an_existing_output_needs_force(invoke, victim, tmp_path, command):
    out = tmp_path / "earlier.html"
    out.write_text("an earlier file")
    _refused(invoke(*command, "--db", victim, "-o", out), "already exists", "--force")
    assert out.read_text() == "an earlier file"
    assert invoke(*command, "--db", victim, "-o", out, "--force").exit_code == 0
    assert out.read_text() != "an earlier file"


def test_the_temporary_file_has_a_random_name_and_follows_no_link(tmp_path):
    from ipt_measures.files import write_output

    # The old name was .NAME.<pid>.partial, opened with O_CREAT|O_TRUNC: a link planted there truncated
    # the file it pointed to. Now the name is random and O_EXCL|O_NOFOLLOW never follows one.
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (tmp_path / f".out.csv.{os.getpid()}.partial").symlink_to(precious)
    seen = []

    def write(out):
        seen.extend(p for p in os.listdir(tmp_path) if p.endswith(".partial") and not p.startswith(f".out.csv.{os.getpid()}"))
        out.write("a,b\n")

    write_output(tmp_path / "out.csv", write)
    assert precious.read_text() == "keep me"
    assert len(seen) == 1 and re.fullmatch(r"\.out\.csv\.[0-9a-f]{16}\.partial", seen[0])
    assert (tmp_path / "out.csv").read_text() == "a,b\n" and (tmp_path / "out.csv").stat().st_mode & 0o077 == 0


def test_doctor_reports_leftovers_of_a_killed_export(invoke, victim, tmp_path):
    assert "leftovers" in invoke("doctor", "--db", victim).output
    left = tmp_path / ".caseload.csv.0123456789abcdef.partial"
    left.write_text("half an export")
    result = invoke("doctor", "--db", victim)
    assert str(left) in result.output and "killed export" in result.output


READ_COMMANDS = [
    ["caseload"], ["progress", "c1"], ["due", "c1"], ["clients", "list"], ["clients", "show", "c1"],
    ["alerts"], ["audit", "c1"], ["export", "--all"], ["report", "c1", "-o", "r.html"], ["doctor"],
    ["backup", "copy.db"], ["course", "show", "c1"], ["session", "list", "c1"],
    # commands that write to an existing record do not create one either
    ["course", "start", "c1", "--problem-area", "grief"], ["session", "start", "c1"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_command_that_reads_never_creates_a_database(invoke, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "typo.db"
    result = invoke(*command, "--db", typo)
    assert result.exit_code != 0, result.output  # was: "No active course", exit 0, and a 90 KB file
    assert "no database at" in result.output and "Traceback" not in result.output
    assert not typo.exists() and not (tmp_path / "r.html").exists() and not (tmp_path / "copy.db").exists()


def test_an_empty_db_option_is_an_error_not_the_default(invoke, isolated_data):
    assert invoke("clients", "add", "c1").exit_code == 0  # the default database
    for command in (["clients", "list"], ["clients", "add", "c2"], ["doctor"]):
        result = invoke(*command, "--db", "")
        assert result.exit_code != 0 and "--db is empty" in result.output, result.output
    listed = invoke("clients", "list", "--json")
    assert [c["id"] for c in json.loads(listed.output)] == ["c1"]


def test_a_writing_command_creates_the_database_and_says_so_once(invoke, tmp_path):
    db = tmp_path / "new.db"
    first = invoke("clients", "add", "c1", "--db", db)
    assert first.exit_code == 0 and first.stderr.count("Created the database") == 1 and db.exists()
    second = invoke("clients", "add", "c2", "--db", db)
    assert second.exit_code == 0 and "Created" not in second.stderr


def test_the_audit_actor_is_the_login_even_where_USER_is_unset(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("USER", "LOGNAME", "USERNAME", "IPT_USER")}
    env["IPT_DB"] = str(tmp_path / "a.db")

    def ipt(*args):
        return subprocess.run([sys.executable, "-m", "ipt_measures", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    assert ipt("clients", "add", "c1").returncode == 0
    assert ipt("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05").returncode == 0
    assert ipt("session", "start", "c1", "--date", "2026-01-05").returncode == 0
    assert ipt("session", "amend", "c1", "1", "--phase", "middle", "--reason", "r", "--by", "Dr K").returncode == 0
    rows = json.loads(ipt("audit", "c1", "--json").stdout)
    assert {r["actor"] for r in rows} == {getpass.getuser()} != {"unknown"}  # was "unknown" for every entry
    assert [r["declared_actor"] for r in rows] == [None, None, None, "Dr K"]  # the --by name beside the login


def test_export_and_report_are_recorded_in_the_audit(invoke, victim, tmp_path):
    assert invoke("export", "c1", "--db", victim, "--format", "json", "-o", tmp_path / "c1.json").exit_code == 0
    key = tmp_path / "k.key"
    assert invoke("export", "--all", "--db", victim, "--deidentify", "--key-file", key, "--shift-dates",
                  "-o", tmp_path / "all.csv").exit_code == 0
    assert invoke("report", "c1", "--db", victim, "-o", tmp_path / "c1.pdf").exit_code == 0
    rows = json.loads(invoke("audit", "c1", "--db", victim, "--json").output)
    reads = [r for r in rows if r["action"] in ("export", "report")]
    assert [r["action"] for r in reads] == ["export", "export", "report"]
    one, everyone, report = reads
    assert one["client_id"] == "c1" and "json" in one["new_value"] and "identified" in one["new_value"]
    assert one["entity_id"] == str((tmp_path / "c1.json").resolve())
    assert everyone["client_id"] is None and "csv-long" in everyone["new_value"]
    assert "de-identified, dates shifted" in everyone["new_value"]
    assert report["client_id"] == "c1" and report["new_value"].startswith("pdf report")
    assert all(r["actor"] == getpass.getuser() and r["at"] for r in reads)
