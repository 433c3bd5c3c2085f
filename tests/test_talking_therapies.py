"""The NHS Talking Therapies paired outcome, a plugin through the programme_outcome hook (issue 14, part 6).

Caseness PHQ-9 >= 10 or GAD-7 >= 8; reliable change 6 (PHQ-9) and 4 (GAD-7) points (NHS England, The NHS
Talking Therapies Manual v6, 2023). The cases below are worked by hand from those rules.
"""

import pytest

from ipt_measures import get_instrument
from ipt_measures_plugins.talking_therapies import (
    GAD7_CASENESS,
    GAD7_RELIABLE_CHANGE,
    PHQ9_CASENESS,
    PHQ9_RELIABLE_CHANGE,
    programme_outcome,
    talking_therapies_outcome,
)


# -- NHS Talking Therapies paired outcome -----------------------------------------------------------


def outcome(phq_first, phq_last, gad_first, gad_last):
    o = talking_therapies_outcome(phq_first, phq_last, gad_first, gad_last)
    return tuple(o[k] for k in ("case_at_start", "recovery", "reliable_improvement", "reliable_recovery",
                                "reliable_deterioration"))


@pytest.mark.parametrize(
    "scores, expected",
    [
        # (PHQ-9 first, last, GAD-7 first, last) -> (case at start, recovery, RI, reliable recovery, RD)
        # PHQ 15->8 (-7, reliable), GAD 12->7 (-5, reliable); end 8 < 10 and 7 < 8: reliable recovery.
        ((15, 8, 12, 7), (True, True, True, True, False)),
        # PHQ 11->9 (-2), GAD 8->7 (-1): no longer a case but no reliable change: recovery only.
        ((11, 9, 8, 7), (True, True, False, False, False)),
        # PHQ 20->14 (-6, exactly reliable), GAD 10->10: still a case: reliable improvement only.
        ((20, 14, 10, 10), (True, False, True, False, False)),
        # GAD 12->8 (-4, exactly reliable) but 8 is still a GAD case; PHQ 5->5.
        ((5, 5, 12, 8), (True, False, True, False, False)),
        # Case by GAD-7 only (PHQ 9 < 10, GAD 8 >= 8); GAD 8->4 (-4) and both below caseness at the end.
        ((9, 6, 8, 4), (True, True, True, True, False)),
        # Case by PHQ-9 only (PHQ 10, GAD 7 < 8); PHQ 10->4 (-6); recovered reliably.
        ((10, 4, 7, 7), (True, True, True, True, False)),
        # Mixed: PHQ 18->12 (-6 improved), GAD 6->10 (+4 deteriorated): not improvement, deterioration.
        ((18, 12, 6, 10), (True, False, False, False, True)),
        # Recovered by caseness but GAD deteriorated reliably: 12->9 PHQ (-3), 3->7 GAD (+4, still < 8).
        ((12, 9, 3, 7), (True, True, False, False, True)),
        # Deterioration only, not a case at the start: PHQ 8->14 (+6), GAD 5->5.
        ((8, 14, 5, 5), (False, None, False, None, True)),
        # Just short of the thresholds: PHQ 15->10 (-5), GAD 10->7 (-3); 10 is still a PHQ case.
        ((15, 10, 10, 7), (True, False, False, False, False)),
        # Not a case at the start, reliable improvement: PHQ 9->3 (-6), GAD 7->2 (-5).
        ((9, 3, 7, 2), (False, None, True, None, False)),
        # Both deteriorate: PHQ 10->16 (+6), GAD 8->12 (+4).
        ((10, 16, 8, 12), (True, False, False, False, True)),
    ],
)
def test_talking_therapies_outcomes(scores, expected):
    assert outcome(*scores) == expected


def test_talking_therapies_caseness_boundaries():
    # PHQ-9 >= 10 or GAD-7 >= 8.
    assert talking_therapies_outcome(10, 0, 0, 0)["case_at_start"] is True
    assert talking_therapies_outcome(0, 0, 8, 0)["case_at_start"] is True
    assert talking_therapies_outcome(9, 0, 7, 0)["case_at_start"] is False
    assert talking_therapies_outcome(9, 9, 7, 8)["case_at_end"] is True


def test_talking_therapies_reports_per_measure_changes():
    o = talking_therapies_outcome(18, 12, 6, 10)
    assert (o["phq9_change"], o["gad7_change"]) == (-6, 4)
    assert (o["phq9_reliable"], o["gad7_reliable"]) == ("improved", "deteriorated")
    # Just below each threshold: 5 and 3 points.
    o = talking_therapies_outcome(18, 13, 6, 9)
    assert (o["phq9_reliable"], o["gad7_reliable"]) == ("no reliable change", "no reliable change")


@pytest.mark.parametrize("missing", range(4))
def test_talking_therapies_needs_all_four_scores(missing):
    scores = [15, 8, 12, 7]
    scores[missing] = None
    o = talking_therapies_outcome(*scores)
    assert o["assessable"] is False
    assert (o["case_at_start"], o["recovery"], o["reliable_improvement"], o["reliable_recovery"],
            o["reliable_deterioration"]) == (
        None, None, None, None, None,
    )


def test_talking_therapies_thresholds_match_the_registered_phq9():
    # The NHS TT constants and phq9.toml both cite the Manual: they must agree.
    params = get_instrument("phq9").primary.change
    assert (params.reliable_change, params.clinical_cutoff) == (PHQ9_RELIABLE_CHANGE, PHQ9_CASENESS) == (6, 10)
    gad = get_instrument("gad7").primary.change
    assert (gad.reliable_change, gad.clinical_cutoff) == (GAD7_RELIABLE_CHANGE, GAD7_CASENESS) == (4, 8)


# -- through the hook -----------------------------------------------------------------------------------

COURSE = {"id": 1, "client_id": "c1", "course_type": "standard", "planned_sessions": 16,
          "problem_areas": ["grief"], "start_date": "2026-01-05", "end_date": None}


def test_the_outcome_pairs_phq9_and_gad7_from_the_same_session():
    """Session 3's PHQ-9 is never paired with session 2's GAD-7: first and last *paired* sessions only."""
    scores = {"phq9": [(1, 18), (2, 16), (3, 7)], "gad7": [(1, 12), (2, 6), (4, 12)]}
    o = programme_outcome(course=COURSE, scores=scores)
    assert o["sessions"] == [1, 2] and (o["data"]["phq9_change"], o["data"]["gad7_change"]) == (-2, -6)
    facts = {f["key"]: f["value"] for f in o["facts"]}
    assert (facts["reliable_improvement"], facts["recovery"]) == (True, False)  # PHQ-9 16 is still a case


def test_the_outcome_needs_two_paired_sessions_and_both_measures():
    assert programme_outcome(course=COURSE, scores={"phq9": [(1, 18), (2, 7)]}) is None
    o = programme_outcome(course=COURSE, scores={"phq9": [(1, 18), (2, 7)], "gad7": [(1, 12), (3, 4)]})
    assert o["assessable"] is False and "same session" in o["note"] and o["sessions"] == []


def test_hook_programme_outcome():
    """A plugin's programme_outcome reaches review.progress; a broken or duplicate one is reported and skipped."""
    from ipt_measures import hookimpl
    from ipt_measures.plugins import build_registry

    class Clinic:
        @hookimpl
        def programme_outcome(self, course, scores):
            first, last = scores["phq9"][0][1], scores["phq9"][-1][1]
            return {"id": "clinic-phq9-halved", "name": "Clinic target", "assessable": True, "source": "our audit",
                    "facts": [{"key": "halved", "label": "PHQ-9 halved", "value": last <= first / 2}], "note": None}

    class Broken:
        @hookimpl
        def programme_outcome(self, course):
            raise RuntimeError("boom")

    class Duplicate:
        @hookimpl
        def programme_outcome(self):
            return {"id": "nhs-talking-therapies", "name": "again", "assessable": False, "facts": [], "source": "x"}

    registry = build_registry(Clinic(), Broken(), Duplicate())
    scores = {"phq9": [(1, 18), (2, 8)], "gad7": [(1, 10), (2, 5)]}
    outcomes = registry.programme_outcomes(COURSE, scores)
    assert [o["id"] for o in outcomes] == ["nhs-talking-therapies", "clinic-phq9-halved"] or \
        sorted(o["id"] for o in outcomes) == ["clinic-phq9-halved", "nhs-talking-therapies"]
    assert next(o for o in outcomes if o["id"] == "clinic-phq9-halved")["facts"][0]["value"] is True
    errors = " ".join(e for _, e in registry.errors)
    assert "programme_outcome raised RuntimeError: boom" in errors
    assert "the outcome id 'nhs-talking-therapies' another plugin already gave" in errors


def test_the_core_names_no_instrument():
    """Issue 14, part 6: review.py and change.py named phq9 and gad7; the outcome lives in a plugin now."""
    from pathlib import Path

    import ipt_measures

    core = Path(ipt_measures.__file__).parent
    for name in ("review.py", "change.py", "report.py"):
        text = (core / name).read_text().lower()
        for instrument in ('"phq9"', '"gad7"', "'phq9'", "'gad7'"):
            assert instrument not in text, (name, instrument)
