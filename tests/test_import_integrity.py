"""`ipt import` cannot corrupt a course and says exactly what it stored (issue 10 part 5).

Each test reproduces a finding of the issue against the long CSV layout; PHQ-9 totals are hand-worked
from the published rule (sum of items 1-9; Kroenke, Spitzer & Williams 2001).
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys

import pytest

from ipt_measures import record as services
from ipt_measures.exchange.importing import ImportStopped, import_file
from ipt_measures.store import open_store

HEADER = ["client_id", "course_start", "planned_sessions", "problem_areas", "protocol", "course_end", "session",
          "session_date", "phase", "administration", "instrument", "item", "value", "status", "total"]
PHQ9 = [1, 2, 0, 1, 1, 0, 2, 1, 0]  # total 8


def rows(client="c1", start="2025-01-06", planned=16, session="1", day="2025-01-06", phase="initial", admin="a1",
         answers=PHQ9, end="", protocol="ipt-default"):
    return [{"client_id": client, "course_start": start, "planned_sessions": planned, "problem_areas": "grief",
             "protocol": protocol, "course_end": end, "session": session, "session_date": day, "phase": phase,
             "administration": admin, "instrument": "phq9", "item": str(n), "value": v, "status": "answered",
             "total": ""} for n, v in enumerate(answers, 1)]


def write(path, *groups):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, HEADER)
        writer.writeheader()
        for group in groups:
            writer.writerows(group)
    return path


def count(db, table="administrations"):
    with open_store(db) as s:
        return s._query(f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture
def db(engine, needs_bulk):
    """The record imported into, on each engine (`ipt import` stores by bulk import: on PostgreSQL, COPY)."""
    return engine


def with_open_course(db, start="2026-03-02", planned=16):
    with open_store(db) as s:
        s.add_client("c1")
        course = services.start_course(s, "c1", ["grief"], planned, start)
        s.add_session(course["id"], 1, start, "initial")
    return course


# -- one active course per client; no silent merge ---------------------------------------------------


def test_an_older_course_imported_while_one_is_open_is_refused(invoke, db, tmp_path):
    with_open_course(db)
    path = write(tmp_path / "old.csv", rows(start="2025-01-06", day="2025-01-06"))
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 1
    assert ("c1 already has an active course (started 2026-03-02); the file's course started 2025-01-06 has no "
            "end date") in result.output
    with open_store(db) as s:
        assert [c["start_date"] for c in s.courses("c1") if c["end_date"] is None] == ["2026-03-02"]
        assert s.active_course("c1")["start_date"] == "2026-03-02"
    # The same course with its end date is history, not a second active course: it is imported.
    path = write(tmp_path / "ended.csv", rows(start="2025-01-06", day="2025-01-06", end="2025-04-20"))
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 0, result.output
    with open_store(db) as s:
        assert [(c["start_date"], c["end_date"]) for c in s.courses("c1")] == [
            ("2026-03-02", None), ("2025-01-06", "2025-04-20")]
        assert services.start_session(s, "c1", date="2026-03-09")["number"] == 2  # into the open course


def test_two_open_courses_of_one_client_in_a_file_are_refused(db, tmp_path):
    path = write(tmp_path / "two.csv", rows(start="2025-01-06", day="2025-01-06"),
                 rows(start="2025-06-02", day="2025-06-02", admin="a2"))
    with open_store(db) as s:
        report = import_file(s, path)
    assert "c1 has two courses without an end date in the file" in report.rejected[0].reason
    assert count(db) == 0


def test_a_course_stored_with_another_length_is_not_merged_unless_asked(invoke, db, tmp_path):
    with_open_course(db, start="2026-01-05", planned=16)
    path = write(tmp_path / "f.csv", rows(start="2026-01-05", planned=12, session="2", day="2026-01-12",
                                          phase="initial"))
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 1
    assert ("c1's course started 2026-01-05 is stored differently (planned sessions: stored 16, file 12): not "
            "merged; --merge-differing adds to it, keeping what is stored") in result.output
    assert count(db) == 0
    result = invoke("import", path, "--db", db, "--merge-differing")
    assert result.exit_code == 0, result.output
    with open_store(db) as s:
        assert [c["planned_sessions"] for c in s.courses("c1")] == [16]
        assert [x["number"] for x in s.sessions(s.courses("c1")[0]["id"])] == [1, 2]


def test_a_session_stored_on_another_date_is_not_merged_unless_asked(db, tmp_path):
    with_open_course(db, start="2026-01-05")
    path = write(tmp_path / "f.csv", rows(start="2026-01-05", session="1", day="2026-01-06"))
    with open_store(db) as s:
        report = import_file(s, path)
        assert "session 1 date: stored 2026-01-05, file 2026-01-06" in report.rejected[0].reason
        report = import_file(s, path, merge_differing=True)
        assert report.stored == 1
        assert s.sessions(s.courses("c1")[0]["id"])[0]["date"] == "2026-01-05"  # what is stored stands


# -- every field range-checked in the check pass -----------------------------------------------------


def test_a_session_number_of_1e19_is_refused_by_the_dry_run(invoke, db, tmp_path):
    path = write(tmp_path / "f.csv", rows(), rows(session="1e19", admin="a2"))
    result = invoke("import", path, "--db", db, "--dry-run")
    assert result.exit_code == 1
    assert "rejected line 11: session '1e19' is outside 1-99" in result.output
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 1 and "unexpected" not in result.output
    assert count(db) == 0


@pytest.mark.parametrize("field,value,reason", [
    ("course_start", "1850-01-01", "course_start 1850-01-01 is before 1900"),
    ("course_start", "2999-01-01", "course_start 2999-01-01 is in the future"),
    ("session_date", "2024-12-30", "session_date 2024-12-30 is before course_start 2025-01-06"),
    ("planned_sessions", "1e400", "not a whole number"),
    ("course_end", "2024-01-01", "course_end 2024-01-01 is before course_start 2025-01-06"),
    ("protocol", "no-such-protocol", "protocol 'no-such-protocol' is not registered"),
])
def test_every_field_is_range_checked_before_anything_is_stored(db, tmp_path, field, value, reason):
    group = rows()
    for row in group:
        row[field] = value
    path = write(tmp_path / "f.csv", rows(client="c0"), group)
    with open_store(db) as s:
        report = import_file(s, path, dry_run=True)
    assert not report.ok and reason in report.rejected[0].reason, report.rejected
    assert report.administrations == 1


def test_the_session_date_is_stored_normalised(db, tmp_path):
    path = write(tmp_path / "f.csv", rows(start="20250106", day="20250106"))
    with open_store(db) as s:
        assert import_file(s, path).stored == 1
        course = s.courses("c1")[0]
        assert (course["start_date"], s.sessions(course["id"])[0]["date"]) == ("2025-01-06", "2025-01-06")


# -- storing that stops part-way says what it stored, and a re-run completes it -------------------------


def many(n):
    return [row for i in range(n) for row in rows(client=f"c{i:05d}", admin=f"a{i}")]


def test_an_interrupted_import_says_exactly_what_was_stored_and_a_rerun_completes(db, tmp_path):
    path = write(tmp_path / "many.csv", many(2500))

    class Bar:  # interrupts the storing pass near its end, after the first batch of 2,000 has committed
        def __init__(self, stage, total):
            self.stage, self.total, self.seen = stage, total, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.seen += n
            if self.stage == "storing" and self.seen > self.total * 0.9:
                raise KeyboardInterrupt

    with open_store(db) as s, pytest.raises(ImportStopped) as stopped:
        import_file(s, path, progress=Bar)
    assert ("import stopped (interrupted): 2000 of 2500 administration(s) were stored (2000 client(s), 2000 "
            "course(s), 2000 session(s) created), each one whole; the batch in progress was not stored") in str(stopped.value)
    assert count(db) == 2000 and count(db, "scores") == 2000
    with open_store(db) as s:
        report = import_file(s, path)
    assert (report.stored, report.skipped) == (500, 2000)
    assert count(db) == 2500


def test_a_full_disk_part_way_is_reported_truthfully(invoke, tmp_path):
    # SQLite only: the full disk is played by SQLite's max_page_count; a server's full disk is the server's.
    db = tmp_path / "t.db"
    path = write(tmp_path / "many.csv", many(2500))
    with open_store(tmp_path / "probe.db") as s:
        import_file(s, write(tmp_path / "first.csv", many(2000)))
        pages = s._query("PRAGMA page_count")[0][0]
    with open_store(db) as s:
        s._conn.execute(f"PRAGMA max_page_count = {pages + 20}")  # room for the first batch, not the second
        with pytest.raises(ImportStopped) as stopped:
            import_file(s, path)
    message = str(stopped.value)
    assert "is full" in message and "2000 of 2500 administration(s) were stored" in message
    assert "nothing was changed" not in message
    assert count(db) == 2000


# -- hostile files ---------------------------------------------------------------------------------------


def test_a_huge_one_line_csv_is_refused_with_memory_bounded(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "w") as out:
        out.write(",".join(HEADER) + "\n")
        block = "x" * (1 << 20)
        for _ in range(200):  # one line of 200 MB
            out.write(block)
    probe = ("import resource, subprocess, sys; subprocess.run([sys.executable, '-m', 'ipt_measures', 'import', "
             f"{str(path)!r}, '--db', {str(tmp_path / 't.db')!r}]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    peak_mb = int(done.stdout.strip().splitlines()[-1]) / 1024
    assert "line 2 is longer than 1,048,576 characters" in done.stderr
    assert peak_mb < 200, f"peak memory {peak_mb:.0f} MB for a 200 MB line"
    assert resource  # imported for the probe's sake only in the child


def test_many_rejected_rows_are_summarised_not_printed(invoke, db, tmp_path):
    bad = [row for i in range(400) for row in rows(client=f"c{i}", admin=f"a{i}", answers=[7] * 9)]
    path = write(tmp_path / "bad.csv", bad)
    result = invoke("import", path, "--db", db)
    lines = result.output.splitlines()
    assert result.exit_code == 1 and len(lines) < 40
    assert "... and 3,580 more rejected row(s) (--json lists the first 1,000). By reason:" in result.output
    assert "3,600  phq9 item N: N is not an allowed answer (allowed: N, N, N, N)" in result.output
    report = json.loads(invoke("import", path, "--db", db, "--json").stdout)
    assert report["rejected_total"] == 3600 and len(report["rejected"]) == 1000


# -- re-imports: amended at the source, and the same session written another way ---------------------------


def test_a_record_amended_at_its_source_is_not_skipped_silently(invoke, db, tmp_path):
    path = write(tmp_path / "f.csv", rows())
    assert invoke("import", path, "--db", db).exit_code == 0
    amended = rows()
    amended[8]["value"] = 2  # item 9 corrected at the source: 0 -> 2
    path = write(tmp_path / "f2.csv", amended)
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 1
    assert "changed at its source since (item 9: 0 -> 2): not stored; --amend-changed" in result.output
    result = invoke("import", path, "--db", db, "--amend-changed")
    assert result.exit_code == 0, result.output
    assert "amended 1 changed at their source" in result.output
    with open_store(db) as s:
        admin = s._query("SELECT id FROM administrations")[0][0]
        assert s.responses(admin)["9"]["value"] == 2
        assert s.current_score(admin)["total"]["value"] == 10
        trail = [(a["action"], a["old_value"], a["new_value"]) for a in s.audit_trail("c1")]
        assert ("amendment", "0", "2") in trail and ("score recomputed", "8.0", "10.0") in trail
        # Item 9 endorsed at the source: the amendment raises the critical alert, as any amendment does.
        assert [(a["kind"], a["item_id"]) for a in s.alerts("c1")] == [("critical-item", "9")]
    assert count(db) == 1
    assert "skipped 1 already stored" in invoke("import", path, "--db", db).output


def test_session_1_and_1_0_are_the_same_administration(db, tmp_path):
    with open_store(db) as s:
        assert import_file(s, write(tmp_path / "a.csv", rows(session="1"))).stored == 1
        report = import_file(s, write(tmp_path / "b.csv", rows(session="1.0")))
        assert (report.stored, report.skipped) == (0, 1)
    assert count(db) == 1 and count(db, "sessions") == 1


def test_ctrl_c_while_checking_says_nothing_was_stored(invoke, db, tmp_path, monkeypatch):
    from ipt_measures.exchange import csv_long

    path = write(tmp_path / "f.csv", rows())

    def interrupted(path, update=None):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr(csv_long, "read", interrupted)
    result = invoke("import", path, "--db", db)
    assert result.exit_code == 130
    assert "Interrupted while checking the file: nothing was stored." in result.output
    assert count(db) == 0


def test_a_fhir_file_too_large_to_read_whole_is_refused_before_it_is_read(db, tmp_path, monkeypatch):
    from ipt_measures.errors import UsageError
    from ipt_measures.exchange import fhir

    monkeypatch.setattr(fhir, "JSON_MAX", 1000)
    path = tmp_path / "big.json"
    path.write_text('{"resourceType": "Bundle", "entry": [' + ",".join(["{}"] * 1000) + "]}")
    with open_store(db) as s, pytest.raises(UsageError, match="FHIR JSON is read whole, so files over"):
        import_file(s, path)


def test_a_plugin_readers_records_are_range_checked_like_ours(db, tmp_path):
    """check_record, not the reader, is the gate: a plugin yielding session 1e19 is refused in the check pass."""
    from ipt_measures.exchange.records import check_record

    record = {"client_id": "c1", "course": {"start_date": "2025-01-06", "planned_sessions": "16",
                                            "problem_areas": ["grief"]},
              "session": {"number": "1e19", "date": "2025-01-06", "phase": "initial"},
              "administration": {"instrument_id": "phq9", "import_key": "x:1"},
              "responses": [(str(n), v, "answered") for n, v in enumerate(PHQ9, 1)]}
    with pytest.raises(ValueError, match="session '1e19' is outside 1-99"):
        check_record(record)
    record["session"]["number"] = "2"
    record["responses"][0] = ("1", 9, "answered")
    with pytest.raises(ValueError, match="phq9 item 1: 9 is not an allowed answer"):
        check_record(record)
    record["responses"][0] = ("1", "1", "answered")
    checked = check_record(record)
    assert (checked["session"]["number"], checked["course"]["planned_sessions"], checked["responses"][0]) == (2, 16, ("1", 1, "answered"))
    assert checked["score"]["total"]["value"] == 8


@pytest.mark.parametrize("fmt", ["csv-long", "fhir"])
def test_a_maintenance_course_comes_back_as_maintenance(invoke, tmp_path, fmt, new_record, needs_bulk):
    # The export carried no course type, so a monthly maintenance course came back as a standard one, with the
    # standard course's phase rules.
    source, target = new_record("a"), new_record("b")
    assert invoke("clients", "add", "m1", "--db", source).exit_code == 0
    started = invoke("course", "start", "m1", "--type", "maintenance", "--sessions", "12", "--problem-area", "grief",
                     "--db", source)
    assert started.exit_code == 0, started.output
    assert invoke("session", "start", "m1", "--db", source).exit_code == 0
    assert invoke("administer", "m1", "phq9", "--answers", "1,1,1,1,1,1,1,1,0,0", "--db", source).exit_code == 0
    out = tmp_path / ("x.csv" if fmt == "csv-long" else "x.json")
    items = ["--items"] if fmt == "csv-long" else []
    assert invoke("export", "m1", "--format", fmt, *items, "-o", out, "--db", source).exit_code == 0
    imported = invoke("import", out, "--db", target)
    assert imported.exit_code == 0, imported.output
    shown = invoke("course", "show", "m1", "--json", "--db", target)
    assert json.loads(shown.stdout)[0]["course_type"] == "maintenance", shown.stdout
