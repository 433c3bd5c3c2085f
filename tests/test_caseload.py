"""`ipt caseload`: every active course, its current session, latest primary score, category and flags.

The synthetic caseload (tests/test_review.py, build_caseload) and its hand-worked figures:
- c-rec: PHQ-9 16 -> 4 over sessions 1-8, recovered (-12 >= 6, from >= 10 to < 10); item 9 endorsed at
  session 2 only, and that alert acknowledged (acknowledge_earlier_alerts), so no open critical alert.
- c-worse: PHQ-9 8 -> 15 over sessions 1-3, +7: reliably deteriorated; item 9 = 2 at session 3 (the last).
- c-gap: PHQ-9 15, 14 at sessions 1-2, sessions 3-5 held unmeasured: 5 - 2 = 3 sessions without measurement.
- c-ended: a course that has ended: not on the caseload.
Reliable change 6 and caseness 10 on PHQ-9: NHS Talking Therapies Manual (v6, 2023).
"""

from __future__ import annotations

import json

import pytest

from ipt_measures.review import caseload
from ipt_measures.store import open_store
from test_review import acknowledge_earlier_alerts, build_caseload, record, session_date


@pytest.fixture
def db(engine, needs_bulk):  # built by bulk import (test_review.build_caseload)
    path = engine
    with open_store(path) as store:
        build_caseload(store)
        acknowledge_earlier_alerts(store)  # c-rec's item 9 alert (session 2) acknowledged, c-worse's (session 3) open
    return path


def test_caseload_rows(db):
    with open_store(db) as store:
        rows = {r.client_id: r for r in caseload(store)}
    assert set(rows) == {"c-rec", "c-worse", "c-gap"}  # c-ended's course is over

    rec = rows["c-rec"]
    assert (rec.current_session, rec.phase, rec.measure, rec.latest_score, rec.latest_band) == (
        8, "middle", "phq9", 4, "minimal")
    assert (rec.baseline_score, rec.change_from_baseline, rec.category) == (16, -12, "recovered")
    assert rec.flags == [] and rec.open_critical == []  # item 9 at session 2 was acknowledged

    worse = rows["c-worse"]
    assert (worse.latest_score, worse.change_from_baseline, worse.category) == (15, 7, "reliably deteriorated")
    (alert,) = worse.open_critical
    assert alert.startswith("PHQ-9 item 9 (session 3, alert ") and worse.deteriorated == ["PHQ-9"]
    assert worse.flags == [f"open critical alert: {alert}", "reliable deterioration: PHQ-9"]

    gap = rows["c-gap"]
    assert (gap.current_session, gap.last_measured_session, gap.sessions_unmeasured) == (5, 2, 3)
    assert (gap.latest_score, gap.latest_session, gap.category) == (14, 2, "no reliable change")
    assert gap.flags == ["no measurement for 3 sessions"]


def test_caseload_sorting(db):
    with open_store(db) as store:
        def order(**kw):
            return [r.client_id for r in caseload(store, **kw)]

        # Concern: a critical item first, then deterioration, then a measurement gap.
        assert order() == ["c-worse", "c-gap", "c-rec"]
        assert order(sort="client") == ["c-gap", "c-rec", "c-worse"]
        assert order(sort="score") == ["c-rec", "c-gap", "c-worse"]  # 4, 14, 15
        assert order(sort="change") == ["c-rec", "c-gap", "c-worse"]  # -12, -1, +7
        assert order(sort="session") == ["c-worse", "c-gap", "c-rec"]  # 3, 5, 8
        assert order(sort="category") == ["c-worse", "c-gap", "c-rec"]
        assert order(sort="score", reverse=True) == ["c-worse", "c-gap", "c-rec"]


def test_gap_of_exactly_two_sessions_and_a_course_not_started(engine, needs_bulk):
    with open_store(engine) as store:
        store.bulk_import([record("c-two", 1, "phq9", [1] * 8 + [0])])  # 8 at session 1, item 9 not endorsed
        course = store.courses("c-two")[0]
        store.add_session(course["id"], 2, session_date(2), "initial")
        rows = caseload(store)
        assert rows[0].sessions_unmeasured == 1 and rows[0].flags == []  # one session without: not yet a flag
        store.add_session(course["id"], 3, session_date(3), "initial")
        assert caseload(store)[0].flags == ["no measurement for 2 sessions"]

        store.add_client("c-none")
        fresh = store.start_course("c-none", "2026-03-02", 12, ["grief"], None)
        row = next(r for r in caseload(store) if r.client_id == "c-none")
        assert (row.current_session, row.measure, row.category, row.flags) == (None, None, "not assessable", [])
        for n in (1, 2):
            store.add_session(fresh["id"], n, session_date(n, "2026-03-02"), "initial")
        row = next(r for r in caseload(store) if r.client_id == "c-none")
        assert row.flags == ["no measurement for 2 sessions"]


def test_caseload_is_a_fixed_number_of_queries(tmp_path):
    """Set-based: the same number of SELECTs for 2 clients as for 40, never one query per client.

    Counted on SQLite only (its trace callback sees every statement); both engines run the same statements."""
    def count_selects(clients):
        with open_store(tmp_path / f"q{clients}.db") as store:
            store.bulk_import([record(f"c{i:03d}", n, "phq9", [i % 3] * 9) for i in range(clients) for n in (1, 2)])
            statements = []
            store._conn.set_trace_callback(statements.append)
            rows = caseload(store)
            store._conn.set_trace_callback(None)
            assert len(rows) == clients
            return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    small, large = count_selects(2), count_selects(40)
    assert small == large <= 4


def test_caseload_cli_table(invoke, db):
    result = invoke("caseload", "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["Client", "Session", "Phase", "Measure", "Latest", "Change", "Category", "Flags"]
    body = [line for line in lines[2:] if line.startswith("c-")]
    assert [line.split()[0] for line in body] == ["c-worse", "c-gap", "c-rec"]
    assert "3/12" in body[0] and "15 moderately severe (s3)" in body[0] and "+7" in body[0]
    assert "!! PHQ-9 item 9 (session 3, alert " in body[0] and "); R- PHQ-9" in body[0]
    assert "gap 3 sessions" in body[1]
    assert "8/12" in body[2] and "4 minimal (s8)" in body[2] and "-12" in body[2] and "recovered" in body[2]
    assert "Flags: !! open critical alert, until acknowledged" in result.output


def test_caseload_cli_json_sort_and_flagged(invoke, db):
    data = json.loads(invoke("caseload", "--db", db, "--json", "--sort", "client").output)
    assert [r["client_id"] for r in data] == ["c-gap", "c-rec", "c-worse"]
    assert data[1]["category"] == "recovered" and data[1]["problem_areas"] == ["grief"]
    flagged = json.loads(invoke("caseload", "--db", db, "--json", "--flagged").output)
    assert [r["client_id"] for r in flagged] == ["c-worse", "c-gap"]
    result = invoke("caseload", "--db", db, "--sort", "nonsense")
    assert result.exit_code == 2


def test_empty_caseload(invoke, engine):
    open_store(engine).close()  # an existing, empty record (a missing one is an error: test_files.py)
    result = invoke("caseload", "--db", engine)
    assert result.exit_code == 0 and "No active course." in result.output
    assert json.loads(invoke("caseload", "--db", engine, "--json").output) == []


def test_an_endorsed_item_9_stays_flagged_after_later_forms_until_acknowledged(invoke, engine):
    """Issue 10: item 9 endorsed at session 4, then a GAD-7 (and a PHQ-9 with item 9 at 0) at session 5: the
    caseload still shows !! (and --flagged lists the client) until someone acknowledges the alert."""
    db = engine
    invoke("clients", "add", "c1", "--db", db)
    invoke("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05", "--db", db)
    for day in ("2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"):
        assert invoke("session", "start", "c1", "--date", day, "--db", db).exit_code == 0
    invoke("administer", "c1", "phq9", "--answers", "1,1,1,1,1,1,1,1,1", "--db", db)  # item 9: several days
    invoke("session", "start", "c1", "--date", "2026-02-09", "--db", db)
    invoke("administer", "c1", "gad7", "--answers", "1,1,1,1,1,1,1", "--db", db)
    flagged = invoke("caseload", "--flagged", "--db", db)
    assert "c1" in flagged.output and "!! PHQ-9 item 9 (session 4" in flagged.output
    invoke("administer", "c1", "phq9", "--answers", "1,1,1,1,1,1,1,1,0", "--db", db)  # item 9 now 0
    flagged = invoke("caseload", "--flagged", "--db", db)
    assert "!! PHQ-9 item 9 (session 4" in flagged.output, flagged.output
    (alert,) = json.loads(invoke("alerts", "c1", "--json", "--db", db).output)
    assert invoke("alerts", "ack", alert["id"], "--action", "risk assessed, safety plan reviewed", "--db", db).exit_code == 0
    assert "No flagged course." in invoke("caseload", "--flagged", "--db", db).output


def test_caseload_agrees_with_each_course_progress_on_a_generated_record(engine, needs_bulk):
    """The caseload judges every course in one pass over its rows; ``ipt progress`` judges one course through
    change.summarise. On a synthetic clinic (every category, deteriorations, open alerts, unscored forms) each
    row must say what that course's progress says: the primary measure, baseline, latest, change, category and
    which instruments reliably deteriorated."""
    from datetime import date

    from ipt_measures import demo
    from ipt_measures.review import progress

    with open_store(engine) as store:
        demo.populate(store, 120, 3, as_of=date(2026, 11, 2))
        rows = caseload(store)
        assert {r.category for r in rows} >= {"recovered", "no reliable change", "reliably deteriorated"}
        assert any(r.deteriorated for r in rows) and any(r.open_critical for r in rows)
        for row in rows:
            course = progress(store, row.client_id, row.course_id)
            assert row.measure == course.primary
            primary = course.get(row.measure)
            summary = primary.summary
            scored = [p for p in primary.points if p.value is not None]
            latest = (scored[-1].session, scored[-1].value, scored[-1].band) if scored else (None, None, None)
            assert (row.latest_session, row.latest_score, row.latest_band) == latest
            assert (row.baseline_score, row.change_from_baseline, row.category) == (
                summary["baseline"], summary["change_from_baseline"], summary["category"])
            assert sorted(row.deteriorated) == sorted(
                s.short_name or s.name for s in course.series if s.summary["reliable_direction"] == "deteriorated")
            measured = [p.session for s in course.series for p in s.points]
            assert row.last_measured_session == (max(measured) if measured else None)
            assert row.current_session == (course.sessions[-1]["number"] if course.sessions else None)


def test_an_open_critical_alert_of_a_client_with_no_active_course_stays_in_front(invoke, engine):
    """A course that ended with item 9 endorsed and not acknowledged has no caseload row to carry its flag: the
    caseload shows the alert on stderr before its table (and beside --json), until someone acknowledges it."""
    db = engine
    for client in ("c-done", "c-now"):
        assert invoke("clients", "add", client, "--db", db).exit_code == 0
        assert invoke("course", "start", client, "--problem-area", "grief", "--start", "2026-01-05",
                      "--db", db).exit_code == 0
        assert invoke("session", "start", client, "--date", "2026-01-05", "--db", db).exit_code == 0
    invoke("administer", "c-done", "phq9", "--answers", "1,1,1,1,1,1,1,1,2", "--db", db)  # item 9: more than half
    assert invoke("course", "end", "c-done", "--reason", "completed", "--date", "2026-01-06", "--db", db).exit_code == 0
    (alert,) = json.loads(invoke("alerts", "c-done", "--json", "--db", db).output)

    table = invoke("caseload", "--db", db)
    assert table.exit_code == 0
    assert f"!! c-done has no active course and an open critical alert:\n!! OPEN CRITICAL ALERT {alert['id']} " \
           f"(session 1, raised " in table.stderr
    assert f"ipt alerts ack {alert['id']} --action" in table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()[2:] if line.startswith("c-")] == ["c-now"]
    as_json = invoke("caseload", "--json", "--db", db)
    (row,) = json.loads(as_json.stdout)
    assert row["client_id"] == "c-now"
    assert "c-done has no active course" in as_json.stderr
    assert "c-done" not in invoke("caseload", "--clinician", "someone-else", "--db", db).stderr
    assert "c-done" in invoke("caseload", "--clinician", row["clinician"], "--db", db).stderr  # both had the default

    assert invoke("alerts", "ack", alert["id"], "--action", "phoned, risk assessed", "--db", db).exit_code == 0
    assert "c-done" not in invoke("caseload", "--db", db).stderr
