"""Record services: courses, sessions with derived phases, completing and scoring, paper entry, amendments.

PHQ-9 totals are summed by hand from the answers given (Kroenke, Spitzer & Williams 2001: sum of items 1-9;
bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe). Change categories
follow Jacobson & Truax 1991 with PHQ-9's reliable change of 6 points and caseness at 10 (NHS Talking
Therapies Manual v6, 2023), as plugins/phq9.toml declares.
"""

import json

import pytest

from ipt_measures import record
from ipt_measures.errors import InvalidAnswers, NotFound, UnknownInstrument, UsageError
from ipt_measures.plugins import build_registry
from ipt_measures.store import open_store


@pytest.fixture
def store(engine):
    with open_store(engine) as s:
        yield s


@pytest.fixture
def course(store):
    record.add_client(store, "c1")
    return record.start_course(store, "c1", ["grief"], 16, "2026-01-05")


def give(store, client, instrument, values, session=None):
    engine = record.begin(store, client, instrument, session)
    for v in values:
        if v is None:
            engine.skip()
        else:
            engine.answer(v)
    return record.complete(store, engine)


def test_sessions_are_numbered_and_phased(store, course):
    phases = []
    for day in range(5, 21):
        s = record.start_session(store, "c1", f"2026-01-{day:02d}")
        phases.append((s["number"], s["phase"]))
    assert phases[:4] == [(1, "initial"), (2, "initial"), (3, "initial"), (4, "middle")]
    assert phases[12:] == [(13, "middle"), (14, "termination"), (15, "termination"), (16, "termination")]


def test_session_phase_override_and_date_checks(store, course):
    assert record.start_session(store, "c1", "2026-01-05", phase="middle")["phase"] == "middle"
    record.start_session(store, "c1", "2026-01-09")
    with pytest.raises(UsageError, match="before session 2"):
        record.start_session(store, "c1", "2026-01-08")
    with pytest.raises(UsageError, match="before the course start"):
        record.start_session(store, "c1", "2026-01-01")
    with pytest.raises(UsageError, match="not a date"):
        record.start_session(store, "c1", "12/01/2026")


def test_course_needs_a_known_protocol_and_sessions_need_a_course(store):
    record.add_client(store, "c2")
    with pytest.raises(UsageError, match="no active course"):
        record.start_session(store, "c2")
    with pytest.raises(UsageError, match="unknown protocol 'nope'"):
        record.start_course(store, "c2", ["grief"], 12, protocol="nope")
    with pytest.raises(UsageError, match="birth year"):
        record.add_client(store, "c3", birth_year=1800)


def test_complete_stores_score_and_change_from_the_first_administration(store, course):
    record.start_session(store, "c1", "2026-01-05")
    first = give(store, "c1", "phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0, 2])  # 24, severe
    assert (first.score.total.value, first.score.total.band, first.baseline) == (24, "severe", None)
    record.start_session(store, "c1", "2026-01-12")
    second = give(store, "c1", "phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0, None])  # 8, mild
    assert second.score.total.value == 8 and second.score.total.band == "mild"
    assert second.baseline["session"] == 1 and second.baseline["total"] == 24
    # -16 is beyond 6 points and goes from >= 10 to < 10: "recovered" (Jacobson & Truax 1991).
    assert second.change["change"] == -16 and second.change["category"] == "recovered"
    stored = store.current_score(second.administration["id"])
    assert stored["total"]["value"] == 8
    assert store.responses(second.administration["id"])["10"]["status"] == "skipped"


def test_critical_item_reaches_the_alerts(store, course):
    record.start_session(store, "c1", "2026-01-05")
    result = give(store, "c1", "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 3, 0])
    critical = [a for a in result.alerts if a["severity"] == "critical"]
    assert len(critical) == 1 and "item 9: Nearly every day" in critical[0]["message"]


def test_unfinished_is_found_resumed_or_abandoned(store, course):
    record.start_session(store, "c1", "2026-01-05")
    engine = record.begin(store, "c1", "phq9")
    engine.answer(2)
    engine.answer(2)
    [open_one] = record.unfinished(store, "c1")
    assert (open_one["instrument_id"], open_one["answered"]) == ("phq9", 2)
    resumed = record.resume(store, open_one["id"])
    assert resumed.position == (3, 10)
    record.abandon(store, open_one["id"], "client left early")
    assert record.unfinished(store, "c1") == []
    assert store.get_administration(open_one["id"])["status"] == "abandoned"
    with pytest.raises(UsageError, match="not in progress"):
        record.resume(store, open_one["id"])


def test_paper_entry_validates_everything_before_storing_anything(store, course):
    record.start_session(store, "c1", "2026-01-05")
    entries = [record.Entry("phq9", "1,1,1,1,1,1,1,1,1"), record.Entry("gad7", "1,1,1,9,1,1,1", where="line 3")]
    with pytest.raises(InvalidAnswers, match="line 3: gad7 item 4: 9 is not an allowed answer"):
        record.enter_answers(store, "c1", entries)
    with pytest.raises(UnknownInstrument):
        record.enter_answers(store, "c1", [record.Entry("phq9", "0,0,0,0,0,0,0,0,0"), record.Entry("nope", "1")])
    with pytest.raises(NotFound, match="no session 4"):
        record.enter_answers(store, "c1", [record.Entry("phq9", "0,0,0,0,0,0,0,0,0", session=4)])
    assert store.administrations(course["id"]) == []
    results = record.enter_answers(store, "c1", [record.Entry("phq9", "1,2,,1,0,1,0,0,0")])
    # 5 from 8 answered items, prorated x 9/8 = 5.625 -> 6 (Kroenke et al. 2010 allow 2 missing).
    assert results[0].score.total.value == 6
    responses = store.responses(results[0].administration["id"])
    assert responses["3"]["status"] == "skipped" and "10" not in responses


def test_entries_file_formats(tmp_path):
    csv_two = tmp_path / "a.csv"
    csv_two.write_text('instrument,answers\nphq9,"1,1,1,1,1,1,1,1,1"\ngad7,0 0 0 0 0 0 0\n')
    assert [(e.instrument, e.answers) for e in record.read_entries_file(str(csv_two))] == [
        ("phq9", "1,1,1,1,1,1,1,1,1"), ("gad7", "0 0 0 0 0 0 0")]
    csv_items = tmp_path / "b.csv"
    csv_items.write_text("session,1,2,3\n2,1,,3\n")
    [entry] = record.read_entries_file(str(csv_items), "x")
    assert (entry.instrument, entry.session, entry.answers) == ("x", 2, {"1": "1", "3": "3"})
    js = tmp_path / "c.json"
    js.write_text(json.dumps([{"instrument": "phq9", "answers": [0] * 9}, {"instrument": "gad7", "answers": {"1": 1}}]))
    assert [e.instrument for e in record.read_entries_file(str(js))] == ["phq9", "gad7"]
    bad = tmp_path / "d.json"
    bad.write_text("[{")
    with pytest.raises(UsageError, match="not valid JSON"):
        record.read_entries_file(str(bad))


def test_amend_response_rescores_and_is_audited(store, course):
    record.start_session(store, "c1", "2026-01-05")
    give(store, "c1", "phq9", [2, 2, 2, 2, 2, 2, 2, 2, 1, 1])  # 17, moderately severe
    result = record.amend_response(store, "c1", "9", 0, "client meant 'not at all'", instrument_id="phq9",
                                   session_number=1)
    assert result.previous_total == 17 and result.score.total.value == 16
    assert result.score.flags == []  # the corrected answer no longer raises item 9
    trail = record.audit(store, "c1")
    amendment = [a for a in trail if a["action"] == "amendment"][-1]
    assert (amendment["field"], amendment["old_value"], amendment["new_value"]) == ("item 9", "1", "0")
    assert amendment["reason"] == "client meant 'not at all'"
    with pytest.raises(UsageError, match="already holds"):
        record.amend_response(store, "c1", "9", 0, "again", instrument_id="phq9", session_number=1)
    with pytest.raises(InvalidAnswers, match="0-3"):
        record.amend_response(store, "c1", "9", 5, "typo", instrument_id="phq9", session_number=1)
    with pytest.raises(NotFound, match="no completed gad7"):
        record.amend_response(store, "c1", "1", 0, "x", instrument_id="gad7", session_number=1)


def test_amend_session_date(store, course):
    record.start_session(store, "c1", "2026-01-05")
    record.amend_session(store, "c1", 1, "typed the wrong day", date="2026-01-06")
    entry = record.audit(store, "c1")[-1]
    assert (entry["field"], entry["old_value"], entry["new_value"]) == ("date", "2026-01-05", "2026-01-06")


def test_due_uses_the_course_protocol_and_tolerates_unregistered_instruments(store):
    from ipt_measures import hookimpl

    class Clinic:
        __name__ = "clinic"

        @staticmethod
        @hookimpl
        def register_protocols(register):
            register({"id": "clinic", "name": "Clinic", "rules": [
                {"instruments": ["phq9", "not-installed"], "when": ["every"]}]})

    registry = build_registry(Clinic())
    record.add_client(store, "c9")
    record.start_course(store, "c9", ["role-disputes"], 12, "2026-01-05", protocol="clinic", registry=registry)
    report = record.due(store, "c9", registry=registry)
    assert (report.session, report.started) == (1, False)
    assert report.to_give == ["phq9"] and report.unavailable == ["not-installed"]


def test_client_summary(store, course):
    record.start_session(store, "c1", "2026-01-05")
    give(store, "c1", "phq9", [3, 3, 3, 3, 3, 3, 3, 3, 1, 3])  # 25
    record.start_session(store, "c1", "2026-01-12")
    give(store, "c1", "phq9", [2, 2, 2, 2, 2, 2, 2, 2, 0, 2])  # 16
    s = record.client_summary(store, "c1")
    [m] = s["measures"]
    assert (m["first"], m["latest"], m["change"], m["times"]) == (25, 16, -9, 2)
    assert [(c["session"], c["item"]) for c in s["critical"]] == [(1, "9")]
    assert s["due"]["session"] == 2
    assert "gad7" in s["due"]["to_give"]


def test_csv_without_a_header_is_refused_clearly(tmp_path):
    path = tmp_path / "no-header.csv"
    path.write_text("phq9,1,1,1,1,1,1,1,1,1\n")
    with pytest.raises(UsageError, match="the first line must be a header"):
        record.read_entries_file(str(path))
