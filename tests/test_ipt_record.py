"""IPT itself in the record (issue 14): course types, the interpersonal inventory, goals, the summary."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, timedelta

import pytest

from ipt_measures import domain
from ipt_measures.protocols import derive_phase
from ipt_measures.store import open_store


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def refused(result, text):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert text in result.output, result.output
    return result


# -- course types ------------------------------------------------------------------------------------


def test_eight_sessions_start_a_brief_course(invoke, engine):
    """Issue 14, part 3: `ipt course start ... --sessions 8` was refused; it is brief IPT (IPT-B)."""
    ok(invoke("clients", "add", "b1"))
    out = ok(invoke("course", "start", "b1", "--problem-area", "role-transitions", "--sessions", "8")).output
    assert "Started brief course" in out and "8 sessions" in out
    [course] = json.loads(ok(invoke("course", "show", "b1", "--json")).stdout)
    assert course["course_type"] == "brief" and course["planned_sessions"] == 8


@pytest.mark.parametrize("args, message", [
    (["--sessions", "10"], "no course type is planned for 10 sessions"),
    (["--type", "brief", "--sessions", "12"], "a brief IPT (IPT-B) course is planned for 8 sessions, not 12"),
    (["--type", "standard", "--sessions", "20"], "planned for 12 to 16 sessions, not 20"),
    (["--type", "maintenance", "--sessions", "40"], "planned for 6 to 36 sessions, not 40"),
])
def test_a_length_outside_the_type_is_refused_in_one_line(invoke, args, message, engine):
    ok(invoke("clients", "add", "b2"))
    refused(invoke("course", "start", "b2", "--problem-area", "grief", *args), message)
    assert json.loads(ok(invoke("course", "show", "b2", "--json")).stdout) == []


def test_defaults_and_maintenance_by_name(invoke, engine):
    ok(invoke("clients", "add", "m1"))
    ok(invoke("clients", "add", "s1"))
    ok(invoke("course", "start", "s1", "--problem-area", "grief"))
    ok(invoke("course", "start", "m1", "--problem-area", "grief", "--type", "maintenance"))
    assert json.loads(invoke("course", "show", "s1", "--json").stdout)[0]["planned_sessions"] == 16
    [m] = json.loads(invoke("course", "show", "m1", "--json").stdout)
    assert (m["course_type"], m["planned_sessions"]) == ("maintenance", 12)


@pytest.mark.parametrize("kind, planned, phases", [
    ("standard", 16, "III" + "M" * 10 + "TTT"),
    ("standard", 12, "III" + "M" * 6 + "TTT"),
    ("brief", 8, "II" + "MMMM" + "TT"),            # Swartz et al. 2014: initial phase 2 sessions
    ("maintenance", 12, "I" + "M" * 9 + "TT"),
])
def test_phase_rules_scale_with_the_course(kind, planned, phases):
    got = "".join(derive_phase(n, planned, kind)[0].upper() for n in range(1, planned + 1))
    assert got == phases
    assert derive_phase(planned + 1, planned, kind) == "termination"


@pytest.mark.parametrize("kind, planned, session", [
    ("standard", 16, 10), ("standard", 12, 8), ("standard", 14, 9), ("brief", 8, 5), ("maintenance", 12, None),
])
def test_mid_course_review_session(kind, planned, session):
    """The first session of the last third of the middle phase (issue 14, part 4)."""
    assert domain.mid_review_session(planned, kind) == session


def test_brief_course_phases_through_the_cli(invoke, engine):
    ok(invoke("clients", "add", "b3"))
    ok(invoke("course", "start", "b3", "--problem-area", "grief", "--sessions", "8", "--start", "2026-01-05"))
    said = []
    for n in range(1, 9):
        ok(invoke("session", "start", "b3", "--date", f"2026-01-{4 + n:02d}"))
        report = json.loads(ok(invoke("due", "b3", "--json")).stdout)
        said.append((report["phase"], report["planned"]))
    assert [p for p, _ in said] == ["initial"] * 2 + ["middle"] * 4 + ["termination"] * 2
    assert {planned for _, planned in said} == {8}


def test_migration_keeps_courses_made_before_it(tmp_path, monkeypatch):
    """0010 rebuilds the courses table: every course, session and reference survives, typed 'standard'.

    SQLite only: the rebuild (copy to a new table, drop, rename) is SQLite's way to change a column's
    constraint; PostgreSQL's dialect of 0010 alters the table in place, and its migrations are checked by
    test_postgres.py (same names, same resulting tables)."""
    from ipt_measures.store import migrations

    path = tmp_path / "old.db"
    full = list(migrations.MIGRATIONS)
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in full if m[0] < "0010"])
    import ipt_measures.store.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", migrations.MIGRATIONS)
    with open_store(path) as old:
        # The store's statements are today's (clients.clinician is 0011's): the old rows go in as SQL.
        old._conn.execute("INSERT INTO clients (id, created_at) VALUES ('c1', 'now')")
        old._conn.execute("INSERT INTO courses (id, client_id, start_date, planned_sessions, problem_areas, created_at)"
                         " VALUES (7, 'c1', '2026-01-05', 14, '[\"grief\"]', 'now')")
        old.add_session(7, 1, "2026-01-05", "initial")
    course = {"id": 7}
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", full)
    with open_store(path) as new:
        assert new.schema_version() >= "0010_ipt_record"
        [kept] = new.courses("c1")
        assert (kept["id"], kept["planned_sessions"], kept["course_type"]) == (course["id"], 14, "standard")
        assert [s["number"] for s in new.sessions(kept["id"])] == [1]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- the interpersonal inventory ---------------------------------------------------------------------


@pytest.fixture
def course(invoke, engine):
    ok(invoke("clients", "add", "c1", "--name", "Alex Example"))
    ok(invoke("course", "start", "c1", "--problem-area", "role-disputes", "--problem-area", "grief",
              "--sessions", "16", "--start", "2026-01-05"))
    ok(invoke("session", "start", "c1", "--date", "2026-01-05"))
    return "c1"


def test_inventory_add_rate_and_show(invoke, course):
    ok(invoke("inventory", course, "add", "partner", "--type", "partner", "--closeness", "inner", "--support", "1",
              "--conflict", "4", "--contact", "daily", "--wants", "fewer rows about money", "--date", "2026-01-12"))
    ok(invoke("inventory", course, "add", "colleague A", "--type", "colleague", "--closeness", "outer",
              "--support", "2", "--conflict", "0", "--contact", "weekly"))
    out = ok(invoke("inventory", course, "rate", "partner", "--support", "3", "--conflict", "1",
                    "--date", "2026-04-20")).output
    assert "support 3, conflict 1" in out and "(rating 2)" in out
    data = json.loads(ok(invoke("inventory", course, "--json")).stdout)
    partner = next(r for r in data["relationships"] if r["label"] == "partner")
    assert [(r["rated_on"], r["support"], r["conflict"]) for r in partner["ratings"]] == [
        ("2026-01-12", 1, 4), ("2026-04-20", 3, 1)]
    # Not re-stated: carried over from the latest rating, so each rating is complete.
    assert partner["end"]["closeness"] == "inner" and partner["end"]["wanted_change"] == "fewer rows about money"
    assert data["scale"]["support"]["4"] == "a great deal" or data["scale"]["support"][4] == "a great deal"
    table = ok(invoke("inventory", course)).output
    assert "partner" in table and "colleague A" in table and "0 none" in table


def test_inventory_ratings_are_only_ever_added(invoke, course, engine):
    ok(invoke("inventory", course, "add", "mother", "--type", "parent", "--closeness", "middle", "--support", "2",
              "--conflict", "3", "--contact", "weekly"))
    for support in (3, 4):
        ok(invoke("inventory", course, "rate", "mother", "--support", str(support)))
    from conftest import peek

    rows = peek(engine, "SELECT support FROM relationship_ratings ORDER BY id")
    assert [r[0] for r in rows] == [2, 3, 4]
    actions = [a["action"] for a in json.loads(ok(invoke("audit", course, "--json")).stdout)]
    assert actions.count("relationship rated") == 2 and "relationship added" in actions


@pytest.mark.parametrize("args, message", [
    (["add", "Alex's sister", "--type", "sibling", "--closeness", "inner", "--support", "2", "--conflict", "1",
      "--contact", "daily"], "never a name"),
    (["add", "partner", "--type", "partner", "--closeness", "inner", "--support", "2"], "needs its first rating"),
    (["add", "partner", "--type", "partner", "--closeness", "inner", "--support", "7", "--conflict", "1",
      "--contact", "daily"], "0<=x<=4"),
    (["add", "partner", "--type", "lover", "--closeness", "inner", "--support", "2", "--conflict", "1",
      "--contact", "daily"], "Invalid value for '--type'"),
    (["rate", "nobody", "--support", "2"], "no relationship 'nobody'"),
    (["rate", "partner"], "no relationship 'partner'"),
])
def test_inventory_bad_input_is_one_line(invoke, course, args, message):
    refused(invoke("inventory", course, *args), message)
    assert json.loads(invoke("inventory", course, "--json").stdout)["relationships"] == []


def test_rate_needs_something_to_rate(invoke, course):
    ok(invoke("inventory", course, "add", "friend B", "--type", "friend", "--closeness", "middle", "--support", "3",
              "--conflict", "0", "--contact", "monthly"))
    refused(invoke("inventory", course, "rate", "friend B"), "give at least one of")


def test_inventory_start_to_end_in_progress(invoke, course):
    """Issue 14, part 1: shown start -> end in `ipt progress`."""
    ok(invoke("inventory", course, "add", "partner", "--type", "partner", "--closeness", "outer", "--support", "1",
              "--conflict", "4", "--contact", "daily"))
    ok(invoke("inventory", course, "rate", "partner", "--closeness", "inner", "--support", "3", "--conflict", "1"))
    out = ok(invoke("progress", course)).output
    assert "partner (partner): outer, support 1, conflict 4 (s1) -> inner, support 3, conflict 1 (s1)" in out


# -- goals -------------------------------------------------------------------------------------------


def test_goals_are_tied_to_a_problem_area_and_at_most_three(invoke, course):
    refused(invoke("goals", course, "add", "Sleep better"), "name the problem area")
    refused(invoke("goals", course, "add", "Find a new job", "--problem-area", "role-transitions"),
            "a goal is tied to one of them")
    for text in ("Talk about money without a row", "Visit the grave with my sister", "Ask my partner for help"):
        area = "grief" if "grave" in text else "role-disputes"
        ok(invoke("goals", course, "add", text, "--problem-area", area))
    refused(invoke("goals", course, "add", "A fourth", "--problem-area", "grief"), "at most 3 goals")
    goals = json.loads(ok(invoke("goals", course, "--json")).stdout)
    assert [(g["number"], g["problem_area"]) for g in goals] == [(1, "role-disputes"), (2, "grief"),
                                                                    (3, "role-disputes")]


def test_goals_are_rated_inside_administer_due(invoke, course):
    """Issue 14, part 2: rated inside `ipt administer CLIENT --due`, each goal shown in the client's words."""
    due = json.loads(ok(invoke("due", course, "--json")).stdout)
    gbo = next(i for i in due["items"] if i["instrument"] == "gbo")
    assert gbo["state"] == "not set up" and "gbo" not in due["to_give"]
    ok(invoke("goals", course, "add", "Talk about money without a row", "--problem-area", "role-disputes"))
    ok(invoke("goals", course, "add", "Visit the grave with my sister", "--problem-area", "grief"))
    due = json.loads(ok(invoke("due", course, "--json")).stdout)
    assert "gbo" in due["to_give"]
    result = ok(invoke("administer", course, "gbo", input="3\n5\n"))
    assert "Talk about money without a row" in result.output and "Visit the grave with my sister" in result.output
    assert "Item 2 of 2" in result.output and "Total: 4\n" in result.output
    refused(invoke("administer", course, "gbo", "--answers", "3,5,6"), "goal(s) 1, 2 only, not 3")


def test_goal_text_and_labels_never_leave_in_a_deidentified_export(invoke, course, tmp_path):
    goal = "Talk about money without a row"
    ok(invoke("goals", course, "add", goal, "--problem-area", "role-disputes"))
    ok(invoke("inventory", course, "add", "colleague A", "--type", "colleague", "--closeness", "outer",
              "--support", "2", "--conflict", "0", "--contact", "weekly", "--wants", "lunch together"))
    ok(invoke("course", "summary", course, "--warning-signs", "Waking at 4am", "--plan", "Ring the GP"))
    ok(invoke("administer", course, "gbo", "--answers", "4,-,-"))
    key = tmp_path / "k.key"
    for fmt in ("csv-long", "csv-wide", "json", "fhir"):
        for extra in ([], ["--items"]) if fmt == "csv-long" else ([],):
            out = ok(invoke("export", course, "--format", fmt, *extra, "--deidentify", "--key-file", key)).stdout
            assert "gbo" in out
            for secret in (goal, "colleague A", "lunch together", "Waking at 4am", "Ring the GP"):
                assert secret not in out, (fmt, secret)
            # The client id as a word: a bare substring test fails on random hex in UUIDs ("e2c193fd").
            assert not re.search(r"\bc1\b", out), fmt


# -- the end-of-treatment summary --------------------------------------------------------------------


def test_summary_text_is_kept_and_changes_are_audited(invoke, course):
    ok(invoke("course", "summary", course, "--warning-signs", "Waking at 4am", "--plan", "Ring the GP"))
    ok(invoke("course", "summary", course, "--plan", "Ring the GP; tell my sister"))
    data = json.loads(ok(invoke("course", "summary", course, "--json")).stdout)
    assert (data["warning_signs"], data["plan"]) == ("Waking at 4am", "Ring the GP; tell my sister")
    trail = [a for a in json.loads(invoke("audit", course, "--json").stdout) if a["action"] == "summary updated"]
    assert [(a["field"], a["old_value"], a["new_value"]) for a in trail] == [
        ("warning_signs", None, "Waking at 4am"), ("plan", None, "Ring the GP"),
        ("plan", "Ring the GP", "Ring the GP; tell my sister")]
    refused(invoke("course", "summary", "nobody", "--plan", "x"), "no client 'nobody'")


def test_ipt_summary_is_one_library_call(invoke, course, engine):
    from ipt_measures.review import ipt_summary

    ok(invoke("inventory", course, "add", "partner", "--type", "partner", "--closeness", "inner", "--support", "1",
              "--conflict", "4", "--contact", "daily"))
    ok(invoke("goals", course, "add", "Talk about money without a row", "--problem-area", "role-disputes"))
    ok(invoke("administer", course, "gbo", "--answers", "2,-,-"))
    ok(invoke("session", "start", course, "--date", "2026-01-12"))
    ok(invoke("administer", course, "gbo", "--answers", "5,-,-"))
    ok(invoke("inventory", course, "rate", "partner", "--support", "3", "--session", "2"))
    with open_store(engine) as store:
        s = ipt_summary(store, course)
    assert s["course_type"]["id"] == "standard" and s["problem_areas"] == ["role-disputes", "grief"]
    assert s["mid_course_review"] == 10 and s["goal_instrument"] == "gbo"
    [goal] = s["goals"]
    assert [(p["session"], p["value"]) for p in goal["ratings"]] == [(1, 2), (2, 5)]
    assert (goal["first"], goal["latest"], goal["change"]) == (2, 5, 3)
    [partner] = s["inventory"]
    assert (partner["start"]["support"], partner["end"]["support"], partner["end"]["session_number"]) == (1, 3, 2)
    assert s["warning_signs"] is None and s["plan"] is None


# -- the mid-course review ---------------------------------------------------------------------------

PHQ9 = {15: "3,3,3,3,3,0,0,0,0", 16: "3,3,3,3,3,1,0,0,0", 20: "3,3,3,3,3,3,2,0,0", 8: "2,2,2,2,0,0,0,0,0",
        12: "3,3,3,3,0,0,0,0,0"}  # hand-summed PHQ-9 items 1-9 (item 9 always 0)


def _sessions(invoke, client, totals, *args):
    """Start a course and give PHQ-9 at each session with the given totals (None: not given that session)."""
    ok(invoke("clients", "add", client))
    ok(invoke("course", "start", client, "--problem-area", "grief", "--start", "2026-01-05", *args))
    raised = {}
    for n, total in enumerate(totals, start=1):
        ok(invoke("session", "start", client, "--date", (date(2026, 1, 5) + timedelta(weeks=n - 1)).isoformat()))
        if total is not None:
            out = ok(invoke("administer", client, "phq9", "--answers", PHQ9[total])).output
            raised[n] = "Mid-course review" in out
    alerts = [a for a in json.loads(ok(invoke("alerts", client, "--all", "--json")).stdout)
              if a["kind"] == "mid-course-review"]
    return raised, alerts


def test_session_ten_of_sixteen_worse_than_baseline_raises_the_mid_course_review(invoke, engine):
    """Issue 14, part 4: session 10 of 16, PHQ-9 20 (severe), five points worse than baseline 15: no flag."""
    raised, alerts = _sessions(invoke, "mc1", [15] + [16] * 8 + [20])
    assert [n for n, shown in raised.items() if shown] == [10]  # shown with the score, and not before
    [alert] = alerts
    assert (alert["severity"], alert["status"], alert["session_number"]) == ("warning", "open", 10)
    assert "PHQ-9 20 (severe) is no reliable improvement on baseline 15" in alert["message"]


def test_a_reliable_improvement_by_mid_course_raises_nothing(invoke, engine):
    raised, alerts = _sessions(invoke, "mc2", [15] + [12] * 8 + [8, 16])  # 15 -> 8 at session 10: -7, reliable
    assert alerts == [] and not any(raised.values())  # session 11 is judged no more: the review was session 10


def test_a_missed_review_session_is_judged_at_the_next_measurement_and_only_once(invoke, engine):
    raised, alerts = _sessions(invoke, "mc3", [15] + [16] * 8 + [None, 16, 20])
    assert [n for n, shown in raised.items() if shown] == [11]
    [alert] = alerts
    ok(invoke("alerts", "ack", alert["id"], "--action", "formulation reviewed with the client"))
    ok(invoke("session", "start", "mc3", "--date", "2026-04-06"))
    ok(invoke("administer", "mc3", "phq9", "--answers", PHQ9[20]))
    again = [a for a in json.loads(invoke("alerts", "mc3", "--all", "--json").stdout) if a["kind"] == "mid-course-review"]
    assert len(again) == 1 and again[0]["status"] == "acknowledged"


def test_brief_and_maintenance_courses(invoke, engine):
    raised, alerts = _sessions(invoke, "mc4", [15, 16, 16, 16, 16], "--sessions", "8")
    assert [n for n, shown in raised.items() if shown] == [5] and len(alerts) == 1
    raised, alerts = _sessions(invoke, "mc5", [15] + [16] * 11, "--type", "maintenance")
    assert alerts == [] and not any(raised.values())


def test_goals_are_rated_on_the_self_completion_page_in_the_clients_words(engine):
    """Issue 14, part 2: the goals on the self-completion page (ipt handover); they were refused as unshipped text."""
    from ipt_measures import handover, ipt_record, record
    from ipt_measures.errors import UsageError

    with open_store(engine) as store:
        record.add_client(store, "p1")
        record.start_course(store, "p1", ["grief"])
        record.start_session(store, "p1")
        with pytest.raises(UsageError, match="no goals agreed"):
            handover.create(store, "p1", ["gbo"])
        ipt_record.add_goal(store, "p1", "Visit the grave with my sister")
        _, made = handover.create(store, "p1", ["gbo"])
        shown = handover.screen(store, made)
        assert (shown.text, shown.number, shown.total) == ("Visit the grave with my sister", 1, 1)


def test_goal_ratings_on_paper_follow_the_goals_agreed(invoke):
    """With one goal agreed, one rating is the whole form (not three values with two left blank); the full
    three-slot form still works, and a count that fits neither is refused naming the goals agreed."""
    assert invoke("clients", "add", "g1").exit_code == 0
    assert invoke("course", "start", "g1", "--problem-area", "grief").exit_code == 0
    assert invoke("goals", "g1", "add", "Visit the grave with my sister", "--problem-area", "grief").exit_code == 0
    assert invoke("session", "start", "g1").exit_code == 0
    one = invoke("administer", "g1", "gbo", "--answers", "4", "--json")
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)[0]["score"]["total"]["value"] == 4
    slots = invoke("administer", "g1", "gbo", "--answers", "6,,", "--json")
    assert slots.exit_code == 0 and json.loads(slots.stdout)[0]["score"]["total"]["value"] == 6
    two = invoke("administer", "g1", "gbo", "--answers", "4,5")
    assert two.exit_code != 0 and "1 goal agreed, so give 1 rating" in two.output
