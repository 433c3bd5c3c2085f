"""The review library: a course's series per instrument, change from baseline, primary measure, sparkline,
and the built-in reliable-deterioration alert.

Expected values are worked by hand from the published rules the instruments cite:
PHQ-9 bands 0-4/5-9/10-14/15-19/20-27 and remission < 5 (Kroenke et al. 2001, 2010); reliable change
6 points on PHQ-9 and 4 on GAD-7, caseness PHQ-9 >= 10 and GAD-7 >= 8 (NHS Talking Therapies Manual
v6, 2023); GAD-7 bands 0-4/5-9/10-14/15-21 (Spitzer et al. 2006). The record is synthetic.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import ipt_measures
from ipt_measures.errors import NotFound, UsageError
from ipt_measures.plugins import build_registry
from ipt_measures.review import choose_primary, find_course, progress, sparkline
from ipt_measures.store import open_store

# A synthetic client who recovers. PHQ-9 totals (sum of the nine items):
# s1 16, s2 18 (item 9 = 1: critical), s3 14, s4 11, s5 9, s6 7, s7 5, s8 4.
RECOVERING_PHQ9 = {
    1: [3, 2, 2, 2, 2, 2, 2, 1, 0],
    2: [3, 3, 2, 2, 2, 2, 2, 1, 1],
    3: [2, 2, 2, 2, 2, 2, 1, 1, 0],
    4: [2, 2, 1, 2, 1, 1, 1, 1, 0],
    5: [2, 1, 1, 1, 1, 1, 1, 1, 0],
    6: [1, 1, 1, 1, 1, 1, 1, 0, 0],
    7: [1, 1, 1, 1, 0, 1, 0, 0, 0],
    8: [1, 1, 0, 1, 0, 0, 1, 0, 0],
}
# GAD-7 totals: s1 12, s4 9, s8 6.
RECOVERING_GAD7 = {
    1: [2, 2, 2, 2, 1, 1, 2],
    4: [2, 1, 2, 1, 1, 1, 1],
    8: [1, 1, 1, 1, 0, 1, 1],
}
# A synthetic client who gets worse: PHQ-9 s1 8, s2 10, s3 15 with item 9 = 2 at s3.
WORSENING_PHQ9 = {
    1: [1, 1, 1, 1, 1, 1, 1, 1, 0],
    2: [2, 1, 1, 1, 1, 1, 1, 2, 0],
    3: [2, 2, 2, 2, 2, 1, 1, 1, 2],
}


def phase_of(number: int) -> str:
    return "initial" if number <= 3 else ("middle" if number <= 9 else "termination")


def session_date(number: int, start: str = "2026-01-05") -> str:
    return (date.fromisoformat(start) + timedelta(weeks=number - 1)).isoformat()


def record(client, number, instrument, answers, *, start="2026-01-05", planned=12, areas=("grief",),
           end_date=None):
    """One bulk-import record with a real score from the registered instrument, and the alerts it raises."""
    from ipt_measures.assess import assess

    assessment = assess(ipt_measures.get_instrument(instrument), answers)
    score = assessment.score.model_dump(mode="json")
    course = {"start_date": start, "planned_sessions": planned, "problem_areas": list(areas), "protocol": None}
    if end_date:
        course.update(end_date=end_date, end_reason="planned ending")
    return {
        "client_id": client,
        "course": course,
        "session": {"number": number, "date": session_date(number, start), "phase": phase_of(number)},
        "administration": {"instrument_id": instrument, "instrument_version": "1", "respondent": "self-report",
                           "import_key": f"{client}-{start}-{number}-{instrument}"},
        "responses": [(str(i + 1), v, "answered" if v is not None else "skipped") for i, v in enumerate(answers)],
        "score": score,
        "alerts": assessment.alerts,
    }


def recovering(client="c-rec"):
    return [record(client, n, "phq9", a) for n, a in RECOVERING_PHQ9.items()] + [
        record(client, n, "gad7", a) for n, a in RECOVERING_GAD7.items()
    ]


def worsening(client="c-worse"):
    return [record(client, n, "phq9", a, areas=("role-disputes",)) for n, a in WORSENING_PHQ9.items()]


def build_caseload(store):
    """Four synthetic clients: recovering, worsening, a measurement gap, and one whose course has ended."""
    store.bulk_import(recovering() + worsening())
    # c-gap: PHQ-9 at sessions 1 and 2 (totals 15 and 14), then sessions 3-5 held with no measurement.
    store.bulk_import([
        record("c-gap", 1, "phq9", [2, 2, 2, 2, 2, 2, 2, 1, 0], areas=("role-transitions",)),
        record("c-gap", 2, "phq9", [2, 2, 2, 2, 2, 2, 1, 1, 0], areas=("role-transitions",)),
    ])
    gap_course = store.courses("c-gap")[0]
    for n in (3, 4, 5):
        store.add_session(gap_course["id"], n, session_date(n), phase_of(n))
    store.bulk_import([
        record("c-ended", n, "phq9", a, start="2025-06-02", end_date="2025-09-01")
        for n, a in RECOVERING_PHQ9.items()
    ])


def acknowledge_earlier_alerts(store):
    """c-rec's and c-ended's item 9 alerts dealt with at the time (c-worse's, at its last session, stays open)."""
    for client in ("c-rec", "c-ended"):
        for alert in store.alerts(client):
            store.acknowledge_alert(alert["id"], "risk assessed in session")


@pytest.fixture
def store(engine, needs_bulk):  # the caseloads here are built by bulk import
    with open_store(engine) as s:
        yield s


def test_progress_of_a_recovering_client(store):
    store.bulk_import(recovering())
    result = progress(store, "c-rec")

    assert [s.instrument_id for s in result.series] == ["phq9", "gad7"]  # depression before anxiety
    assert result.primary == "phq9"
    phq = result.get("phq9")
    assert [p.value for p in phq.points] == [16, 18, 14, 11, 9, 7, 5, 4]
    assert [p.band for p in phq.points] == ["moderately severe", "moderately severe", "moderate", "moderate",
                                             "mild", "mild", "mild", "minimal"]
    assert phq.points[0].is_baseline and not phq.points[1].is_baseline
    assert [p.change_from_baseline for p in phq.points] == [None, 2, -2, -5, -7, -9, -11, -12]
    # Reliable change on PHQ-9 is 6 points or more: -5 is not reliable, -7 is.
    assert [p.reliable for p in phq.points] == [None, "no reliable change", "no reliable change",
                                                 "no reliable change", "improved", "improved", "improved",
                                                 "improved"]
    s = phq.summary
    assert (s["baseline"], s["baseline_session"], s["latest"], s["latest_session"]) == (16, 1, 4, 8)
    assert s["change_from_baseline"] == -12 and s["change_from_previous"] == -1
    assert s["percent_change"] == -75  # -12 / 16
    # 16 (a case, >= 10) to 4 (not a case) with a reliable fall: recovered; 12 >= 8 (50% of 16): response;
    # 4 < 5: remission.
    assert (s["category"], s["responded"], s["in_remission"]) == ("recovered", True, True)
    assert phq.range == (0, 27) and phq.clinical_cutoff == 10 and phq.threshold["points"] == 6
    assert [b["label"] for b in phq.bands][0] == "minimal"

    gad = result.get("gad7")
    assert [p.value for p in gad.points] == [12, 9, 6]
    # -6 >= 4 is reliable; 12 (case, >= 8) to 6 (not): recovered.
    assert gad.summary["category"] == "recovered"

    [outcome] = result.outcomes
    assert outcome["id"] == "nhs-talking-therapies"
    tt = outcome["data"]
    assert tt["assessable"] and tt["case_at_start"] and not tt["case_at_end"]
    assert (tt["recovery"], tt["reliable_improvement"], tt["reliable_recovery"], tt["reliable_deterioration"]) == (
        True, True, True, False)


def test_course_facts_and_critical_item_history(store):
    store.bulk_import(recovering())
    result = progress(store, "c-rec")
    course = result.course
    assert (course["sessions_attended"], course["current_session"], course["current_phase"]) == (8, 8, "middle")
    assert course["problem_areas"] == ["grief"] and course["planned_sessions"] == 12 and course["active"]
    assert [s["number"] for s in result.sessions] == list(range(1, 9))
    assert len(result.critical_items) == 1
    item = result.critical_items[0]
    assert (item["session"], item["instrument"], item["item"], item["value"], item["answer"]) == (
        2, "phq9", "9", 1, "Several days")
    assert "suicide risk" in item["message"]
    assert result.to_dict()["series"][0]["points"][1]["flags"][0]["item"] == "9"


def test_reliable_deterioration_and_no_talking_therapies_outcome_without_gad7(store):
    store.bulk_import(worsening())
    result = progress(store, "c-worse")
    phq = result.get("phq9")
    # 8 -> 15 is +7, at least 6: reliable deterioration.
    assert phq.summary["category"] == "reliably deteriorated"
    assert [p.reliable for p in phq.points] == [None, "no reliable change", "deteriorated"]
    assert result.outcomes == []


def test_unscored_administration_is_kept_as_a_gap(store):
    # Three of nine PHQ-9 items missing is beyond the two the missing rule allows: not scored.
    store.bulk_import([
        record("c-miss", 1, "phq9", [2, 2, 2, 2, 2, 2, 2, 1, 0]),
        record("c-miss", 2, "phq9", [2, None, None, None, 1, 1, 1, 1, 0]),
    ])
    phq = progress(store, "c-miss").get("phq9")
    assert [p.value for p in phq.points] == [15, None]
    assert phq.summary["last_administration_unscored"] and phq.summary["category"] == "not assessable"


def test_prorated_score_is_marked(store):
    # One item missing: 8 answered items summing to 8, prorated to 8 x 9 / 8 = 9 (Kroenke et al. 2010).
    store.bulk_import([record("c-pro", 1, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, None])])
    point = progress(store, "c-pro").get("phq9").points[0]
    assert point.value == 9 and point.prorated and point.missing == 1


def test_which_course(store):
    store.bulk_import([record("c-two", 1, "phq9", [1] * 9, start="2025-01-06", end_date="2025-04-01"),
                       record("c-two", 1, "phq9", [2] * 9, start="2026-01-05")])
    old, new = store.courses("c-two")
    assert find_course(store, "c-two")["id"] == new["id"]
    assert progress(store, "c-two", course_id=old["id"]).get("phq9").points[0].value == 9
    store.end_course(new["id"], "2026-03-01", "planned ending")
    assert find_course(store, "c-two")["id"] == new["id"]  # no active course: the latest
    store.bulk_import([record("c-other", 1, "phq9", [0] * 9)])
    with pytest.raises(UsageError, match="not a course of client"):
        progress(store, "c-other", course_id=old["id"])


def test_unknown_client_and_client_without_course(store):
    with pytest.raises(NotFound, match="no client"):
        progress(store, "nobody")
    store.add_client("c-new")
    with pytest.raises(NotFound, match="no course"):
        progress(store, "c-new")


def test_instrument_no_longer_installed_is_still_shown(store):
    rec = record("c-x", 1, "phq9", [1] * 9)
    rec["administration"]["instrument_id"] = "retired-scale"
    store.bulk_import([rec])
    series = progress(store, "c-x").series[0]
    assert (series.instrument_id, series.registered, series.points[0].value) == ("retired-scale", False, 9)
    assert series.summary["category"] == "not assessable" and series.threshold is None


def test_choose_primary():
    # (id, domain, has change params, times given, first seen)
    assert choose_primary([("gad7", "anxiety", True, 8, 0), ("phq9", "depression", True, 3, 1)]) == "phq9"
    assert choose_primary([("mspss", "social-support", False, 4, 0), ("gad7", "anxiety", True, 1, 1)]) == "gad7"
    assert choose_primary([("a", "depression", True, 2, 0), ("b", "depression", True, 5, 1)]) == "b"
    assert choose_primary([("a", "depression", True, 2, 0), ("b", "depression", True, 2, 1)]) == "a"
    assert choose_primary([]) is None


def test_sparkline_is_scaled_to_the_instrument_range():
    # On 0-27: 0 is the lowest block, 27 the highest, 13.5 is half way (block 4 of 0-7), None a space.
    assert sparkline([0, 27, 13.5, None], 0, 27) == "▁█▅ "
    assert sparkline([0, 27, 13.5, None], 0, 27, ascii=True) == "_#= "
    # Without a range the values' own min and max are used; a flat series sits in the middle.
    assert sparkline([5, 10]) == "▁█"
    assert sparkline([4, 4]) == "▅▅"
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""


def test_hook_alerts_after_score_warns_on_reliable_deterioration():
    registry = build_registry()
    phq9 = registry.instrument("phq9")
    base = registry.score("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])  # 8
    worse = registry.score("phq9", [2, 2, 2, 2, 1, 1, 1, 1, 2])  # 14: +6, a reliable deterioration
    slightly = registry.score("phq9", [2, 2, 2, 1, 1, 1, 1, 1, 2])  # 13: +5, not reliable

    def warnings(score, previous):
        return [a for a in registry.alerts(phq9, score, previous) if a["kind"] == "reliable-deterioration"]

    found = warnings(worse, [base])
    assert len(found) == 1 and found[0]["severity"] == "warning"
    assert "14 is reliably worse than baseline 8 (+6" in found[0]["message"]
    assert warnings(slightly, [base]) == []
    assert warnings(worse, []) == []
    # Measured from the baseline (the first scored), not from the previous score: 14 -> 13 after 8 is +5.
    assert warnings(slightly, [base, worse]) == []
    unscored = registry.score("phq9", [None, None, None, 1, 1, 1, 1, 1, 2])
    assert unscored.total.value is None
    assert len(warnings(worse, [unscored, base])) == 1
    assert warnings(unscored, [base]) == []
    # Improvement is never a deterioration warning.
    assert warnings(base, [worse]) == []
