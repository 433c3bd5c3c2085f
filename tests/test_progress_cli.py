"""`ipt progress`: the sessions x instruments table, change summary, trend lines, legend and --json.

Expected figures are worked by hand in tests/test_review.py (PHQ-9 and GAD-7 published rules, cited there).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ipt_measures.store import open_store
from test_review import acknowledge_earlier_alerts, build_caseload, recovering


@pytest.fixture
def db(engine, needs_bulk):  # built by bulk import (test_review.build_caseload)
    path = engine
    with open_store(path) as store:
        build_caseload(store)
        acknowledge_earlier_alerts(store)  # as in the README's examples
    return path


def test_progress_table(invoke, db):
    result = invoke("progress", "c-rec", "--db", db)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Client c-rec: course" in out and "(grief), started 2026-01-05, session 8 of 12 planned, middle phase" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Session"))
    assert header.split()[3:] == ["PHQ-9", "GAD-7"]
    row = {line.split()[0]: line for line in lines if line[:1].isdigit()}
    assert "16 moderately severe  base" in row["1"] and "12 moderate  base" in row["1"]
    assert "18 moderately severe  +2 !!" in row["2"]  # item 9 endorsed at session 2
    assert "11 moderate  -5" in row["4"] and "R+" not in row["4"].split("9 mild")[0]  # -5: not reliable
    assert "9 mild  -7 R+" in row["5"]  # -7 reaches the 6-point threshold
    assert "4 minimal  -12 R+" in row["8"] and "6 mild  -6 R+" in row["8"]
    assert "GAD" not in row["5"] and row["5"].rstrip().endswith("R+")  # no GAD-7 at session 5: empty cell


def test_progress_summary_trend_and_legend(invoke, db):
    out = invoke("progress", "c-rec", "--db", db).output
    phq = next(line for line in out.splitlines() if line.startswith("PHQ-9 "))
    assert phq.split()[:6] == ["PHQ-9", "16", "(s1)", "4", "(s8)", "-12"]
    assert "-75%" in phq and ">= 6 points" in phq and "recovered" in phq
    # 16, 18, 14, 11, 9, 7, 5, 4 on 0-27, eight blocks: floor(value / 27 x 8) -> 4 5 4 3 2 2 1 1.
    assert "▅▆▅▄▃▃▂▂  0-27 lower is better" in phq
    assert "NHS Talking Therapies (PHQ-9 + GAD-7, first and last): recovery yes, reliable improvement yes" in out
    assert '!! session 2 (2026-01-12) PHQ-9 item 9 "Several days": Thoughts of being better off dead' in out
    assert "Legend:" in out and "R+ reliable improvement" in out and "!! critical item endorsed" in out


def test_progress_ascii_trend(invoke, db):
    out = invoke("progress", "c-rec", "--db", db, "--ascii").output
    # The same levels drawn with "_.-~=+*#".
    assert "=+=~--..  0-27 lower is better" in out


def test_progress_deterioration_and_critical_at_current_session(invoke, db):
    result = invoke("progress", "c-worse", "--db", db)
    assert "15 moderately severe  +7 R- !!" in result.output
    assert "reliably deteriorated" in result.output
    assert "!!! CRITICAL at the current session" in result.stderr


def test_progress_json(invoke, db):
    data = json.loads(invoke("progress", "c-rec", "--db", db, "--json").output)
    assert data["client_id"] == "c-rec" and data["primary"] == "phq9"
    assert data["course"]["sessions_attended"] == 8 and data["course"]["problem_areas"] == ["grief"]
    phq = data["series"][0]
    assert phq["instrument_id"] == "phq9" and phq["summary"]["category"] == "recovered"
    assert [p["value"] for p in phq["points"]] == [16, 18, 14, 11, 9, 7, 5, 4]
    assert phq["threshold"]["points"] == 6 and phq["clinical_cutoff"] == 10
    assert data["critical_items"][0]["item"] == "9"
    [outcome] = data["outcomes"]
    assert outcome["data"]["reliable_recovery"] is True


def test_progress_other_table_format(invoke, db):
    out = invoke("progress", "c-rec", "--db", db, "--fmt", "github").output
    assert "| Session" in out and "|-" in out


def test_progress_errors_are_one_line(invoke, db, runner):
    result = invoke("progress", "nobody", "--db", db)
    assert result.exit_code == 1 and result.stderr.strip().splitlines()[-1].startswith("Error: no client 'nobody'")
    result = invoke("progress", "c-rec", "--db", db, "--fmt", "nonsense")
    assert result.exit_code == 2 and "unknown table format" in result.output
    with open_store(db) as store:
        store.add_client("c-empty")
    result = invoke("progress", "c-empty", "--db", db)
    assert result.exit_code == 1 and "has no course" in result.stderr


def test_course_without_measurement_yet(invoke, engine):
    db = engine
    with open_store(db) as store:
        store.add_client("c-new")
        course = store.start_course("c-new", "2026-02-02", 16, ["interpersonal-deficits"], None)
        store.add_session(course["id"], 1, "2026-02-02", "initial")
    out = invoke("progress", "c-new", "--db", db).output
    assert "session 1 of 16 planned, initial phase" in out and "No completed administration" in out


def test_progress_queries_use_the_indexes(tmp_path):
    """The 50 ms target on a large record rests on these plans: no full scan of any table.

    SQLite's plans (its trace callback and EXPLAIN QUERY PLAN); PostgreSQL's planner is free to scan a small
    table, so its plans are the benchmarks' business, not a unit test's."""
    from ipt_measures.review import progress

    with open_store(tmp_path / "p.db") as store:
        store.bulk_import(recovering())
        statements = []
        store._conn.set_trace_callback(statements.append)  # SQL with its parameters expanded
        progress(store, "c-rec")
        store._conn.set_trace_callback(None)
        selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
        assert 1 <= len(selects) <= 5
        for sql in selects:
            plan = " | ".join(str(row[3]) for row in store._conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN" not in plan, (sql, plan)


def test_progress_does_not_import_matplotlib(db):
    code = (
        "import sys; from click.testing import CliRunner; from ipt_measures.cli import cli;"
        f"r = CliRunner().invoke(cli, ['progress', 'c-rec', '--db', {str(db)!r}]);"
        "assert r.exit_code == 0, r.output;"
        "import ipt_measures.cli.review;"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "False", out.stderr
    bare = subprocess.run([sys.executable, "-c", "import sys, ipt_measures.cli.review as m;"
                           "print(sorted(k for k in ('tabulate', 'matplotlib', 'pydantic') if k in sys.modules))"],
                          capture_output=True, text=True, timeout=300)
    assert bare.stdout.strip() == "[]", bare.stderr


def test_documented_examples_match_the_real_output(invoke, db):
    """The README's review section shows real output of this synthetic caseload."""
    from conftest import readme_section

    text = readme_section("Following a course")
    for command in (["progress", "c-rec"], ["caseload"]):
        marker = "$ ipt " + " ".join(command) + "\n"
        assert marker in text, f"no example of `ipt {' '.join(command)}` in the docs"
        documented = text.split(marker, 1)[1].split("```", 1)[0].rstrip("\n")
        real = invoke(*command, "--db", db).output.rstrip("\n")
        if command == ["caseload"]:
            real = "\n".join(real.splitlines()[:5])  # the example leaves out the flags legend
        assert documented == real


def test_hostile_options_are_refused_in_one_line(invoke, db):
    result = invoke("progress", "c-rec", "--db", db, "--course", str(10**30))
    assert result.exit_code == 2 and "Invalid value for '--course'" in result.stderr
    result = invoke("progress", "c-rec", "--db", db, "--course", "0")
    assert result.exit_code == 2
    result = invoke("report", "c-rec", "--db", db, "-o", "a\x00b.html")
    assert result.exit_code == 2 and "cannot contain a NUL" in result.stderr and "Traceback" not in result.output


def test_interrupted_administration_is_listed_not_scored(invoke, db):
    with open_store(db) as store:
        course = store.courses("c-rec")[0]
        session = store.add_session(course["id"], 9, "2026-03-02", "middle")
        admin = store.start_administration(session["id"], "phq9", "1", "self-report")
        store.record_response(admin, "1", 2)
    result = invoke("progress", "c-rec", "--db", db)
    assert "In progress, not scored yet: phq9 (session 9); resume with: ipt administer c-rec" in result.output
    row9 = next(line for line in result.output.splitlines() if line.startswith("9 "))
    assert "PHQ" not in row9 and row9.split()[:3] == ["9", "2026-03-02", "middle"]  # the session, no score
    data = json.loads(invoke("progress", "c-rec", "--db", db, "--json").output)
    assert data["in_progress"] == [{"administration_id": admin, "session": 9, "instrument": "phq9"}]
    assert [p["value"] for p in data["series"][0]["points"]][-1] == 4  # still the session-8 score
