"""Alerts as stored facts with a lifecycle (issue 10 parts 1 and 2): raised with the answer or score that
raised them, open until acknowledged (who, when, what was done), never deleted, in the audit.

PHQ-9 item 9 is critical at any answer of 1 or more (Kroenke, Spitzer & Williams 2001: any positive response
warrants further assessment of suicide risk). PHQ-9's missing-item rule: up to 1 of 9 items missing, total
prorated (plugins/phq9.toml). ASRM total 6 or more is the published cut-off (Altman et al. 1997: > 5).
"""

import json
import sqlite3

import pytest

from ipt_measures import record
from ipt_measures.assess import assess
from ipt_measures.errors import UsageError
from ipt_measures.plugins import build_registry
from ipt_measures.store import open_store

from conftest import Raw


@pytest.fixture
def store(engine):
    with open_store(engine) as s:
        yield s


@pytest.fixture
def session(store):
    record.add_client(store, "c1")
    record.start_course(store, "c1", ["grief"], 16, "2026-01-05")
    return record.start_session(store, "c1", "2026-01-05")


def test_a_critical_answer_is_stored_as_an_alert_when_it_is_given_not_only_at_completion(store, session):
    engine = record.begin(store, "c1", "phq9")
    for v in [1] * 8:
        engine.answer(v)
    assert store.alerts("c1") == []
    engine.answer(2)  # item 9, "more than half the days": the alert is on disk before item 10 is shown
    other = open_store(store.path)  # what another process (a colleague's caseload) sees now
    (alert,) = other.alerts("c1")
    assert (alert["kind"], alert["severity"], alert["item_id"], alert["status"]) == ("critical-item", "critical", "9", "open")
    assert alert["administration_id"] == engine.id and alert["session_number"] == 1 and alert["instrument_id"] == "phq9"
    engine.back()
    engine.answer(3)  # going back and answering item 9 again: still one open alert for it
    engine.answer(0)
    record.complete(store, engine)
    assert [a["id"] for a in store.alerts("c1")] == [alert["id"]]
    other.close()


def test_an_answer_changed_back_to_not_critical_leaves_the_alert_open_until_acknowledged(store, session):
    # Decision (README, Alerts): software never withdraws an alert. An endorsement taken back a moment later
    # is still something to ask about; the clinician acknowledges it, saying what was done.
    engine = record.begin(store, "c1", "phq9")
    for v in [0] * 8 + [1]:
        engine.answer(v)
    engine.back()
    engine.answer(0)
    engine.answer(0)
    result = record.complete(store, engine)
    assert result.score.flags == []
    (alert,) = store.alerts("c1")
    assert alert["kind"] == "critical-item"


def test_a_skipped_risk_item_keeps_the_published_total_and_raises_risk_item_unanswered(invoke, engine):
    invoke("clients", "add", "c1")
    invoke("course", "start", "c1", "--problem-area", "grief")
    invoke("session", "start", "c1")
    # The reproduction, with the skip confirmed: the prompt asks once more for a risk item.
    result = invoke("administer", "c1", "phq9", input="3\n3\n3\n3\n3\n3\n3\n3\ns\ns\n3\n")
    assert result.exit_code == 0, result.output
    assert "Total: 27, severe [prorated" in result.output  # PHQ-9's rule still decides the total
    assert "This is a risk item" in result.output
    assert "risk item not answered: ask directly" in result.output
    alerts = json.loads(invoke("alerts", "c1", "--json").output)
    assert [(a["kind"], a["severity"], a["item_id"]) for a in alerts] == [("risk-item-unanswered", "critical", "9")]


def test_the_prompt_asks_once_more_and_an_answer_then_counts_as_the_answer(invoke, engine):
    invoke("clients", "add", "c1")
    invoke("course", "start", "c1", "--problem-area", "grief")
    invoke("session", "start", "c1")
    result = invoke("administer", "c1", "phq9", input="0\n0\n0\n0\n0\n0\n0\n0\nd\n0\n0\n")
    assert result.exit_code == 0, result.output
    assert "This is a risk item" in result.output and "Type d again to record it as declined" in result.output
    assert json.loads(invoke("alerts", "c1", "--json").output) == []  # item 9 answered 0 after all


@pytest.mark.parametrize("instrument,item", [("phq9", "9"), ("epds", "10"), ("qids-sr16", "12"), ("hrsd17", "3")])
def test_every_critical_item_unanswered_raises_the_alert(instrument, item):
    registry = build_registry()
    inst = registry.instrument(instrument)
    answers = {i.id: inst.options_for(i)[0].value for i in inst.items}
    answers[item] = None
    kinds = [(a["kind"], a.get("item_id")) for a in assess(inst, answers, registry=registry).alerts]
    assert ("risk-item-unanswered", item) in kinds


def test_alerts_list_most_serious_then_oldest_and_ack_records_who_when_what(invoke, store, session):
    record.add_client(store, "c2")
    record.start_course(store, "c2", ["grief"], 16, "2026-01-05")
    record.start_session(store, "c2", "2026-01-05")
    store.add_alert("c2", "reliable-deterioration", "warning", "PHQ-9 reliably worse")
    first = store.add_alert("c1", "mid-course-review", "warning", "review at mid-course")
    crit = store.add_alert("c2", "critical-item", "critical", "item 9 endorsed")
    db = str(store.path)
    rows = json.loads(invoke("alerts", "--json", "--db", db).output)
    assert [r["id"] for r in rows][:2] == [crit, rows[1]["id"]] and rows[0]["severity"] == "critical"
    assert [r["message"] for r in rows[1:]] == ["PHQ-9 reliably worse", "review at mid-course"]
    out = invoke("alerts", "ack", first, "--action", "formulation reviewed with supervisor", "--note", "plan kept",
                 "--db", db)
    assert out.exit_code == 0 and "Acknowledged alert" in out.output
    assert first not in [r["id"] for r in json.loads(invoke("alerts", "c1", "--json", "--db", db).output)]
    history = json.loads(invoke("alerts", "c1", "--all", "--json", "--db", db).output)
    (acked,) = [r for r in history if r["id"] == first]
    assert acked["status"] == "acknowledged" and acked["action"] == "formulation reviewed with supervisor"
    assert acked["note"] == "plan kept" and acked["acknowledged_at"] and acked["acknowledged_by"]
    trail = json.loads(invoke("audit", "c1", "--json", "--db", db).output)
    assert any(e["action"] == "alert acknowledged" and e["entity_id"] == str(first) for e in trail)
    again = invoke("alerts", "ack", first, "--action", "x", "--db", db)
    assert again.exit_code != 0 and "already acknowledged" in again.output
    missing = invoke("alerts", "ack", 999, "--action", "x", "--db", db)
    assert missing.exit_code != 0 and "no alert 999" in missing.output
    blank = invoke("alerts", "ack", crit, "--action", "  ", "--db", db)
    assert blank.exit_code != 0 and "what was done" in blank.output


def test_ack_names_the_login_beside_a_declared_name(store, session, monkeypatch, engine):
    import getpass

    from conftest import audit_actor, on_server

    monkeypatch.setattr(getpass, "getuser", lambda: "jdoe")
    monkeypatch.delenv("USER", raising=False)
    login = audit_actor(engine) if on_server(engine) else "jdoe"  # PostgreSQL: the server's session_user
    alert = store.add_alert("c1", "critical-item", "critical", "x")
    assert record.acknowledge_alert(store, alert, "asked")["acknowledged_by"] == login
    other = store.add_alert("c1", "critical-item", "critical", "y", item_id="2")
    assert record.acknowledge_alert(store, other, "asked", actor="Dr B")["acknowledged_by"] == f"Dr B (login {login})"


def test_an_alert_is_never_deleted_nor_rewritten_by_the_database_itself(store, session, engine):
    alert = store.add_alert("c1", "critical-item", "critical", "item 9 endorsed")
    raw = Raw(engine)  # on PostgreSQL the superuser: the triggers hold even for it
    with pytest.raises(raw.Error, match="never deleted"):
        raw.execute("DELETE FROM alerts")
    with pytest.raises(raw.Error, match="acknowledged once"):
        raw.execute("UPDATE alerts SET message = 'nothing to see' WHERE id = ?", (alert,))
    store.acknowledge_alert(alert, "asked directly")
    with pytest.raises(raw.Error, match="acknowledged once"):
        raw.execute("UPDATE alerts SET status = 'acknowledged', action = 'other' WHERE id = ?", (alert,))
    raw.close()


def test_paper_entry_and_amendment_store_their_alerts_with_the_score(store, session):
    (result,) = record.enter_answers(store, "c1", [record.Entry("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])])
    assert store.alerts("c1") == []
    amended = record.amend_response(store, "c1", "9", 2, "client corrected item 9", instrument_id="phq9",
                                    session_number=1)
    assert [a["kind"] for a in amended.alerts] == ["critical-item"]
    (alert,) = store.alerts("c1")
    assert (alert["administration_id"], alert["item_id"]) == (result.administration["id"], "9")
    store.acknowledge_alert(alert["id"], "risk assessed")
    # Amending another item does not raise item 9 again: that answer was dealt with.
    record.amend_response(store, "c1", "1", 0, "typo", instrument_id="phq9", session_number=1)
    assert store.alerts("c1") == []
    # A new answer to item 9 is a new fact: it raises again.
    record.amend_response(store, "c1", "9", 3, "client corrected item 9 again", instrument_id="phq9", session_number=1)
    assert [a["message"][-22:] for a in store.alerts("c1")] == ["(item 9: Nearly every day)"[-22:]]


def test_reliable_deterioration_is_stored_once_per_administration(store, session):
    record.enter_answers(store, "c1", [record.Entry("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])])  # 8
    record.start_session(store, "c1", "2026-01-12")
    record.enter_answers(store, "c1", [record.Entry("phq9", [2, 2, 2, 2, 2, 1, 1, 1, 0])])  # 13... +5 not reliable
    assert store.alerts("c1") == []
    record.start_session(store, "c1", "2026-01-19")
    record.enter_answers(store, "c1", [record.Entry("phq9", [3, 2, 2, 2, 2, 2, 1, 1, 0])])  # 15: +7, reliable (6)
    (alert,) = store.alerts("c1")
    assert (alert["kind"], alert["severity"], alert["session_number"]) == ("reliable-deterioration", "warning", 3)
    store.acknowledge_alert(alert["id"], "formulation reviewed")
    record.amend_response(store, "c1", "1", 2, "typo", instrument_id="phq9", session_number=3)  # 14: still +6
    assert store.alerts("c1") == []  # already dealt with for this administration


def test_asrm_declares_its_cut_off_as_an_alert_rule(invoke):
    out = json.loads(invoke("score", "asrm", "--answers", "2,2,1,1,0", "--json").output)
    assert [(a["kind"], a["severity"], a["rule"]) for a in out["alerts"]] == [("instrument-rule", "warning", "mania-screen")]
    assert out["alerts"][0]["message"].startswith("possible mania/hypomania: assess")
    assert json.loads(invoke("score", "asrm", "--answers", "2,1,1,1,0", "--json").output)["alerts"] == []


def test_an_alert_rule_that_can_never_fire_or_always_fires_is_refused(tmp_path, invoke):
    import tomllib

    from conftest import ROOT

    text = (ROOT / "plugins" / "asrm.toml").read_text()
    for bad, why in (("at_least = 6 ", "can never be raised"), ("at_least = 0 ", "raised by every score")):
        path = tmp_path / "asrm-bad.toml"
        edited = text.replace('id = "asrm"', 'id = "asrm-bad"')
        edited = edited.replace("at_least = 6 ", bad if "0" in bad else "at_least = 21 ")
        path.write_text(edited)
        tomllib.loads(edited)
        result = invoke("instruments", "validate", path)
        assert result.exit_code != 0 and why in result.output, result.output


def test_migration_turns_the_critical_items_of_an_existing_record_into_open_alerts(tmp_path):
    # SQLite only: builds a record as it was before 0003 by hand, which only SQLite records ever were.
    from ipt_measures.store import migrations

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    from ipt_measures.store.sqlite import _statements

    for name, sql in migrations.MIGRATIONS[:2]:
        for statement in _statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'x')", (name,))
    conn.execute("INSERT INTO clients VALUES ('c1', NULL, NULL, 'x')")
    conn.execute("INSERT INTO courses (id, client_id, start_date, planned_sessions, problem_areas, created_at)"
                 " VALUES (1, 'c1', '2026-01-05', 16, '[\"grief\"]', 'x')")
    conn.execute("INSERT INTO sessions VALUES (1, 1, 4, '2026-01-26', 'initial', 'x')")
    conn.execute("INSERT INTO administrations (id, session_id, instrument_id, instrument_version, respondent, status,"
                 " started_at, finished_at) VALUES (1, 1, 'phq9', '1', 'self-report', 'complete', 'x', '2026-01-26')")
    flag = {"item": "9", "value": 2, "answer": "More than half the days", "kind": "suicidality", "message": "endorsed"}
    conn.execute("INSERT INTO scores (administration_id, current, total, scorer, data, computed_at)"
                 " VALUES (1, 1, 12, 'generic/1', ?, 'x')", (json.dumps({"flags": [flag]}),))
    conn.commit()
    conn.close()
    with open_store(db) as s:
        (alert,) = s.alerts("c1")
    assert (alert["kind"], alert["item_id"], alert["status"]) == ("critical-item", "9", "open")
    assert alert["message"] == "endorsed (item 9: More than half the days)"


def test_one_open_alert_per_administration_item_and_kind_even_when_added_twice(store, session):
    engine = record.begin(store, "c1", "phq9")
    first = store.add_alert("c1", "critical-item", "critical", "x", administration_id=engine.id, item_id="9")
    assert store.add_alert("c1", "critical-item", "critical", "x again", administration_id=engine.id, item_id="9") == first
    with pytest.raises(UsageError, match="severity"):
        store.add_alert("c1", "critical-item", "urgent", "x")
    with pytest.raises(UsageError, match="not 'c2'"):
        record.add_client(store, "c2")
        store.add_alert("c2", "critical-item", "critical", "x", administration_id=engine.id)


def test_an_open_critical_alert_is_shown_everywhere_until_acknowledged(invoke, tmp_path, engine):
    """ipt progress, clients show, session start, administer (at its start) and the report's top, with later
    forms in between; after `ipt alerts ack` it is gone from them and in the report's history."""
    db = engine
    invoke("clients", "add", "c1", "--db", db)
    invoke("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05", "--db", db)
    invoke("session", "start", "c1", "--date", "2026-01-05", "--db", db)
    invoke("administer", "c1", "phq9", "--answers", "1,1,1,1,1,1,1,1,2", "--db", db)
    invoke("administer", "c1", "gad7", "--answers", "1,1,1,1,1,1,1", "--db", db)
    (alert,) = json.loads(invoke("alerts", "c1", "--json", "--db", db).output)
    banner = f"!! OPEN CRITICAL ALERT {alert['id']} (session 1"
    started = invoke("session", "start", "c1", "--date", "2026-01-12", "--db", db)
    views = {
        "session start": started.output,
        "progress": invoke("progress", "c1", "--db", db).output,
        "clients show": invoke("clients", "show", "c1", "--db", db).output,
        "administer": invoke("administer", "c1", "gad7", "--db", db, input="q\n").output,
    }
    for name, out in views.items():
        assert banner in out, (name, out)
    assert views["administer"].index(banner) < views["administer"].index("GAD-7")  # at the start
    assert json.loads(invoke("progress", "c1", "--json", "--db", db).output)["open_alerts"][0]["id"] == alert["id"]
    assert json.loads(invoke("clients", "show", "c1", "--json", "--db", db).output)["open_alerts"][0]["id"] == alert["id"]
    report = tmp_path / "r.html"
    assert invoke("report", "c1", "-o", report, "--db", db).exit_code == 0
    html = report.read_text()
    assert f"ipt alerts ack {alert['id']}" in html and '<div class="critical-banner"' in html

    invoke("alerts", "ack", alert["id"], "--action", "risk assessed, safety plan reviewed", "--db", db)
    for out in (invoke("progress", "c1", "--db", db).output, invoke("clients", "show", "c1", "--db", db).output,
                invoke("administer", "c1", "--db", db, input="q\n").output):
        assert "OPEN CRITICAL ALERT" not in out
    report.unlink()
    invoke("report", "c1", "-o", report, "--db", db)
    html = report.read_text()
    assert '<div class="critical-banner"' not in html and "risk assessed, safety plan reviewed" in html
