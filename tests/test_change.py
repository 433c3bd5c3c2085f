"""The change engine against hand-worked values.

Formulas: Jacobson & Truax 1991 (J Consult Clin Psychol 59:12-19): SE = SD x sqrt(1 - r),
Sdiff = sqrt(2 x SE^2), RCI = (post - pre) / Sdiff, reliable when |RCI| > 1.96; clinically significant
change = reliable improvement + clinical -> non-clinical. Published thresholds (NHS Talking Therapies
Manual v6, 2023): PHQ-9 caseness >= 10, reliable change 6; GAD-7 caseness >= 8, reliable change 4.
Response >= 50% reduction and PHQ-9 remission < 5 (Kroenke et al. 2010). Every expected number below is
worked by hand in the comment beside it, not computed by the code under test.
"""

import json

import pytest

from ipt_measures import get_instrument
from ipt_measures.change import (
    ChangeSummary,
    categorise,
    change,
    clinically_significant,
    compare,
    direction,
    improvement,
    in_clinical_range,
    in_remission,
    is_reliable,
    percent_change,
    rci,
    reliable_change_threshold,
    reliable_direction,
    responded,
    sdiff,
    standard_error,
    summarise,
)
from ipt_measures.models import ChangeParams

# A symptom scale shaped like PHQ-9 (synthetic params, numbers as in the NHS TT Manual / Kroenke 2010).
SYMPTOM = ChangeParams(
    higher_is_worse=True, reliable_change=6, clinical_cutoff=10, remission=5, source="synthetic for tests"
)
# Jacobson-Truax only: SD 5.0, r 0.89.
#   SE = 5 x sqrt(0.11) = 5 x 0.331662 = 1.658312; Sdiff = sqrt(2 x 2.75) = sqrt(5.5) = 2.345208;
#   1.96 x Sdiff = 4.596608.
JT = ChangeParams(higher_is_worse=True, sd=5.0, reliability=0.89, clinical_cutoff=10, source="synthetic")
# Both: the published threshold (6) must win over the RCI threshold (4.60).
BOTH = ChangeParams(higher_is_worse=True, sd=5.0, reliability=0.89, reliable_change=6, source="synthetic")
# A round Sdiff for exact boundaries: SD 5.0, r 0.5: SE = 5 x sqrt(0.5) = 3.535534;
#   Sdiff = sqrt(2 x 12.5) = 5.0; 1.96 x Sdiff = 9.8.
ROUND = ChangeParams(higher_is_worse=True, sd=5.0, reliability=0.5, source="synthetic")
# A higher-is-better scale shaped like MSPSS (mean of items 1-7): low support (<= 3.0) is the clinical
# range, a change of 1.0 point is reliable, "remission" above 5.0 (synthetic numbers for the tests).
SUPPORT = ChangeParams(
    higher_is_worse=False, reliable_change=1.0, clinical_cutoff=3.0, remission=5.0, source="synthetic"
)
SUPPORT_JT = ChangeParams(higher_is_worse=False, sd=5.0, reliability=0.5, source="synthetic")
NO_THRESHOLD = ChangeParams(higher_is_worse=True, clinical_cutoff=10, source="synthetic: nothing to judge by")


def phq9_params():
    return get_instrument("phq9").primary.change


# -- deltas ----------------------------------------------------------------------------------------


def test_change_is_current_minus_baseline():
    assert change(10, 4) == -6
    assert change(4, 10) == 6
    assert change(None, 4) is None and change(10, None) is None


@pytest.mark.parametrize(
    "baseline, current, expected",
    [
        (10, 4, -60.0),  # (4 - 10) / 10 x 100
        (4, 6, 50.0),  # (6 - 4) / 4 x 100
        (18, 7, -11 / 18 * 100),  # -61.11
        (0, 5, None),  # no percentage of zero
        (0, 0, None),
        (None, 5, None),
        (8, None, None),
    ],
)
def test_percent_change(baseline, current, expected):
    result = percent_change(baseline, current)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_improvement_and_direction_follow_the_scale_direction():
    # Symptom scale: 20 -> 12 is a decrease of 8, an improvement of 8.
    assert improvement(20, 12, SYMPTOM) == 8 and direction(20, 12, SYMPTOM) == "improved"
    assert improvement(12, 20, SYMPTOM) == -8 and direction(12, 20, SYMPTOM) == "deteriorated"
    # Support scale: 2.0 -> 4.5 is an increase of 2.5, an improvement of 2.5.
    assert improvement(2.0, 4.5, SUPPORT) == 2.5 and direction(2.0, 4.5, SUPPORT) == "improved"
    assert direction(4.5, 2.0, SUPPORT) == "deteriorated"
    assert direction(7, 7, SYMPTOM) == "unchanged"
    assert improvement(None, 3, SYMPTOM) is None and direction(3, None, SYMPTOM) is None


# -- Jacobson & Truax ------------------------------------------------------------------------------


def test_standard_error_and_sdiff_by_hand():
    # SD 5.0, r 0.89: SE = 5 x sqrt(0.11) = 1.658312; Sdiff = sqrt(2 x 1.658312^2) = sqrt(5.5) = 2.345208.
    assert standard_error(5.0, 0.89) == pytest.approx(1.658312, abs=1e-6)
    assert sdiff(5.0, 0.89) == pytest.approx(2.345208, abs=1e-6)
    # SD 10, r 0.75: SE = 10 x sqrt(0.25) = 5; Sdiff = sqrt(2 x 25) = sqrt(50) = 7.071068.
    assert standard_error(10, 0.75) == pytest.approx(5.0)
    assert sdiff(10, 0.75) == pytest.approx(7.071068, abs=1e-6)


def test_rci_by_hand():
    # 20 -> 15: RCI = -5 / 2.345208 = -2.132007 -> |RCI| > 1.96, reliable improvement.
    assert rci(20, 15, JT) == pytest.approx(-2.132007, abs=1e-6)
    assert is_reliable(20, 15, JT) is True
    assert reliable_direction(20, 15, JT) == "improved"
    # 20 -> 16: RCI = -4 / 2.345208 = -1.705606 -> not reliable.
    assert rci(20, 16, JT) == pytest.approx(-1.705606, abs=1e-6)
    assert is_reliable(20, 16, JT) is False
    assert reliable_direction(20, 16, JT) == "no reliable change"
    # 10 -> 15: RCI = +2.132007: reliable deterioration on a symptom scale.
    assert reliable_direction(10, 15, JT) == "deteriorated"


def test_rci_needs_sd_and_reliability():
    assert rci(20, 10, SYMPTOM) is None  # a published threshold alone defines no RCI
    assert rci(None, 10, JT) is None and rci(20, None, JT) is None


def test_threshold_in_points():
    jt = reliable_change_threshold(JT)
    assert (jt.method, jt.inclusive) == ("jacobson-truax", False)
    assert jt.points == pytest.approx(4.596608, abs=1e-6)  # 1.96 x 2.345208
    assert jt.se == pytest.approx(1.658312, abs=1e-6) and jt.sdiff == pytest.approx(2.345208, abs=1e-6)
    published = reliable_change_threshold(SYMPTOM)
    assert (published.points, published.method, published.inclusive) == (6, "published", True)
    assert reliable_change_threshold(NO_THRESHOLD) is None


def test_published_threshold_wins_over_the_rci():
    # RCI alone would call a 5-point change reliable (5 > 4.60); the published 6 points say it is not.
    assert is_reliable(20, 15, JT) is True
    assert is_reliable(20, 15, BOTH) is False
    threshold = reliable_change_threshold(BOTH)
    assert (threshold.points, threshold.method) == (6, "published")
    assert threshold.sdiff == pytest.approx(2.345208, abs=1e-6)  # still reported for the record
    assert rci(20, 15, BOTH) == pytest.approx(-2.132007, abs=1e-6)


@pytest.mark.parametrize("pre, post", [(20, 14), (14, 20), (6, 0), (0, 6)])
def test_published_threshold_boundary_is_inclusive(pre, post):
    # "6 points or more": exactly 6 is reliable, in either direction; 5 is not.
    assert is_reliable(pre, post, SYMPTOM) is True
    assert is_reliable(pre, post - 1 if post > pre else post + 1, SYMPTOM) is False


@pytest.mark.parametrize("params", [ROUND, SUPPORT_JT])
def test_rci_boundary_is_strict(params):
    # Sdiff = 5.0 exactly, 1.96 x 5 = 9.8: a change of 9.8 gives |RCI| = 1.96, which is not > 1.96.
    assert reliable_change_threshold(params).points == pytest.approx(9.8)
    assert is_reliable(20, 10.2, params) is False
    assert is_reliable(10.2, 20, params) is False
    # 9.81 gives |RCI| = 1.962 > 1.96.
    assert is_reliable(20, 10.19, params) is True
    assert is_reliable(10.19, 20, params) is True


def test_float_noise_does_not_decide_a_tie():
    # 0.7 - 0.4 is 0.29999999999999993 in binary floating point; on paper it is 0.3, which reaches 0.3.
    params = ChangeParams(higher_is_worse=True, reliable_change=0.3, source="synthetic mean scale")
    assert 0.7 - 0.4 < 0.3  # the trap this guards against
    assert is_reliable(0.7, 0.4, params) is True


def test_support_scale_reliable_directions():
    # Higher is better: +1.5 is a reliable improvement, -1.5 a reliable deterioration, +0.5 neither.
    assert reliable_direction(2.5, 4.0, SUPPORT) == "improved"
    assert reliable_direction(5.0, 3.5, SUPPORT) == "deteriorated"
    assert reliable_direction(4.0, 4.5, SUPPORT) == "no reliable change"
    # Exactly 1.0 reaches the published 1.0.
    assert reliable_direction(3.0, 4.0, SUPPORT) == "improved"


# -- clinical range, clinical significance, categories ---------------------------------------------


def test_clinical_range_symptom_scale():
    # At or above the cut-off is a case: 10 is, 9 is not (PHQ-9 caseness >= 10).
    assert in_clinical_range(10, SYMPTOM) is True
    assert in_clinical_range(9, SYMPTOM) is False
    assert in_clinical_range(9.99, SYMPTOM) is False
    assert in_clinical_range(None, SYMPTOM) is None
    assert in_clinical_range(20, BOTH) is None  # no cut-off published


def test_clinical_range_support_scale():
    # Higher is better: at or below the cut-off is the clinical range.
    assert in_clinical_range(3.0, SUPPORT) is True
    assert in_clinical_range(2.0, SUPPORT) is True
    assert in_clinical_range(3.1, SUPPORT) is False


@pytest.mark.parametrize(
    "pre, post, expected",
    [
        (20, 8, "recovered"),  # -12 >= 6 reliable; 20 >= 10 case -> 8 < 10 not a case
        (10, 4, "recovered"),  # boundaries: -6 reliable; 10 is a case (at the cut-off) -> 4 is not
        (20, 12, "reliably improved"),  # -8 reliable, but 12 is still a case
        (16, 10, "reliably improved"),  # -6 reliable, ends at 10, still a case
        (9, 3, "reliably improved"),  # -6 reliable; baseline 9 not a case: recovery undefined
        (11, 9, "no reliable change"),  # crosses the cut-off, but -2 is not reliable
        (15, 10, "no reliable change"),  # -5 < 6
        (4, 9, "no reliable change"),  # +5 < 6
        (8, 14, "reliably deteriorated"),  # +6 reliable, worse, into the clinical range
        (14, 20, "reliably deteriorated"),  # +6 reliable, worse, clinical throughout
        (None, 5, "not assessable"),  # missing baseline
        (12, None, "not assessable"),  # missing current
    ],
)
def test_categories_symptom_scale(pre, post, expected):
    assert categorise(pre, post, SYMPTOM) == expected


@pytest.mark.parametrize(
    "pre, post, expected",
    [
        (2.5, 4.0, "recovered"),  # +1.5 reliable; 2.5 <= 3 clinical -> 4.0 > 3 not
        (3.0, 4.0, "recovered"),  # +1.0 reaches 1.0; 3.0 is clinical (at the cut-off) -> 4.0 is not
        (1.5, 2.8, "reliably improved"),  # +1.3 reliable, still <= 3
        (4.0, 5.5, "reliably improved"),  # baseline not in the clinical range
        (2.8, 3.3, "no reliable change"),  # crosses, +0.5 not reliable
        (5.0, 3.5, "reliably deteriorated"),  # -1.5, worse on a support scale
        (None, 3.5, "not assessable"),
    ],
)
def test_categories_support_scale(pre, post, expected):
    assert categorise(pre, post, SUPPORT) == expected


def test_categories_with_rci_only():
    # JT params, cut-off 10: 20 -> 8 is -12, |RCI| = 12 / 2.345208 = 5.12 > 1.96; 8 < 10 -> recovered.
    assert categorise(20, 8, JT) == "recovered"
    # 12 -> 8: -4, |RCI| = 1.71 -> not reliable, even though it crosses the cut-off.
    assert categorise(12, 8, JT) == "no reliable change"
    # 12 -> 7: -5, |RCI| = 2.13 -> reliable, and 7 < 10 -> recovered.
    assert categorise(12, 7, JT) == "recovered"


def test_without_cut_off_recovery_is_undefined():
    assert categorise(20, 2, BOTH) == "reliably improved"
    assert clinically_significant(20, 2, BOTH) is None


def test_not_assessable_without_params_or_threshold():
    assert categorise(20, 2, None) == "not assessable"
    assert categorise(20, 2, NO_THRESHOLD) == "not assessable"
    assert is_reliable(20, 2, NO_THRESHOLD) is None


def test_clinically_significant_change():
    assert clinically_significant(20, 8, SYMPTOM) is True  # reliable + crossed
    assert clinically_significant(20, 12, SYMPTOM) is False  # reliable, not crossed
    assert clinically_significant(11, 9, SYMPTOM) is False  # crossed, not reliable
    assert clinically_significant(12, 18, SYMPTOM) is False  # reliably deteriorated from a case
    assert clinically_significant(8, 14, SYMPTOM) is None  # started outside the clinical range
    assert clinically_significant(9, 3, SYMPTOM) is None  # started outside the clinical range
    assert clinically_significant(None, 3, SYMPTOM) is None
    assert clinically_significant(2.5, 4.0, SUPPORT) is True


# -- response and remission ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pre, post, expected",
    [
        (20, 10, True),  # 10 >= 0.5 x 20 = 10: exactly half is a response
        (20, 11, False),  # 9 < 10
        (20, 25, False),  # worse
        (9, 4.5, True),  # 4.5 >= 4.5
        (0, 0, None),  # nothing to reduce
        (None, 5, None),
        (12, None, None),
    ],
)
def test_response_symptom_scale(pre, post, expected):
    assert responded(pre, post, SYMPTOM) is expected


def test_response_fraction_from_params():
    params = ChangeParams(higher_is_worse=True, reliable_change=6, response_fraction=0.6, source="synthetic")
    # 0.6 x 20 = 12: 20 -> 8 is a 12-point fall, a response; 20 -> 9 (11 points) is not.
    assert responded(20, 8, params) is True
    assert responded(20, 9, params) is False


def test_response_from_a_floor_that_is_not_zero():
    # A scale whose lowest score is 10: from 30, half of (30 - 10) = 10 points, so 20 is a response.
    assert responded(30, 20, SYMPTOM, floor=10) is True
    assert responded(30, 21, SYMPTOM, floor=10) is False
    # From zero it would need 15 points: 30 -> 20 is not a response.
    assert responded(30, 20, SYMPTOM) is False
    assert responded(10, 10, SYMPTOM, floor=10) is None  # baseline at the floor


def test_response_is_undefined_on_higher_is_better_scales():
    assert responded(2.0, 6.0, SUPPORT) is None


def test_remission_is_strictly_better_than_the_threshold():
    # PHQ-9-shaped: remission < 5.
    assert in_remission(4, SYMPTOM) is True
    assert in_remission(5, SYMPTOM) is False
    assert in_remission(4.99, SYMPTOM) is True
    assert in_remission(None, SYMPTOM) is None
    assert in_remission(2, JT) is None  # no remission threshold published
    # Support scale: remission > 5.0.
    assert in_remission(5.0, SUPPORT) is False
    assert in_remission(5.1, SUPPORT) is True


# -- the registered PHQ-9 --------------------------------------------------------------------------


def test_registered_phq9_params():
    params = phq9_params()
    # phq9.toml: reliable change 6 (NHS TT Manual), caseness 10, remission < 5 (Kroenke 2010).
    threshold = reliable_change_threshold(params)
    assert (threshold.points, threshold.method, threshold.inclusive) == (6, "published", True)
    assert categorise(16, 10, params) == "reliably improved"  # -6, but 10 is still a case
    assert categorise(15, 9, params) == "recovered"  # -6 and 15 -> 9 crosses 10
    assert categorise(15, 10, params) == "no reliable change"  # -5
    assert in_remission(4, params) is True and in_remission(5, params) is False


def test_registered_phq9_series_summary():
    # Sessions 1-5: 18, unscored, 12, 7, unscored.
    summary = summarise([(1, 18), (2, None), (3, 12), (4, 7), (5, None)], phq9_params())
    assert (summary.baseline, summary.baseline_session) == (18, 1)
    assert (summary.latest, summary.latest_session) == (7, 4)
    assert (summary.previous, summary.previous_session) == (12, 3)
    assert summary.change_from_baseline == -11  # 7 - 18
    assert summary.change_from_previous == -5  # 7 - 12
    assert summary.percent_change == pytest.approx(-61.111, abs=1e-3)  # -11 / 18 x 100
    assert summary.improvement == 11
    assert summary.reliable is True and summary.reliable_direction == "improved"  # 11 >= 6
    assert summary.rci is None  # PHQ-9 has a published threshold, no SD
    assert summary.baseline_clinical is True and summary.latest_clinical is False
    assert summary.clinically_significant is True
    assert summary.category == "recovered"
    assert summary.responded is True  # 11 >= 0.5 x 18 = 9
    assert summary.in_remission is False  # 7 is not < 5
    assert summary.threshold.points == 6
    assert summary.missing_sessions == [2, 5]
    assert summary.last_administration_unscored is True
    assert (summary.administrations, summary.scored) == (5, 3)


# -- summaries -------------------------------------------------------------------------------------


def test_missing_first_administration_baseline_is_first_scored():
    # Session 1 unscored; session 2 (15) becomes the baseline. 15 -> 9: -6 reliable, 15 case -> 9 not.
    summary = summarise([(1, None), (2, 15), (3, 9)], SYMPTOM)
    assert (summary.baseline, summary.baseline_session) == (15, 2)
    assert summary.missing_sessions == [1]
    assert summary.last_administration_unscored is False
    assert summary.category == "recovered"


def test_series_is_ordered_by_session_number():
    summary = summarise([(3, 9), (1, 20), (2, 14)], SYMPTOM)
    assert (summary.baseline_session, summary.previous_session, summary.latest_session) == (1, 2, 3)
    assert (summary.change_from_baseline, summary.change_from_previous) == (-11, -5)  # 9-20, 9-14


def test_single_scored_administration_is_not_assessable():
    summary = summarise([(1, 14), (2, None)], SYMPTOM)
    assert (summary.baseline, summary.latest, summary.previous) == (14, None, None)
    assert summary.baseline_clinical is True
    assert summary.change_from_baseline is None and summary.percent_change is None
    assert summary.category == "not assessable"
    assert summary.last_administration_unscored is True


@pytest.mark.parametrize("series", [[], [(1, None), (2, None)]])
def test_nothing_scored(series):
    summary = summarise(series, SYMPTOM)
    assert summary.baseline is None and summary.latest is None
    assert summary.category == "not assessable"
    assert summary.scored == 0
    assert summary.threshold.points == 6  # the band can still be drawn


def test_two_administrations_previous_is_the_baseline():
    summary = summarise([(1, 12), (2, 14)], SYMPTOM)
    assert summary.previous == summary.baseline == 12
    assert summary.change_from_previous == summary.change_from_baseline == 2


def test_baseline_zero_percent_is_none():
    summary = summarise([(1, 0), (2, 6)], SYMPTOM)
    assert summary.percent_change is None
    assert summary.category == "reliably deteriorated"  # +6
    assert summary.responded is None


def test_summary_without_params_gives_deltas_only():
    summary = summarise([(1, 20), (2, 10)], None)
    assert summary.change_from_baseline == -10 and summary.percent_change == -50.0
    assert summary.higher_is_worse is None
    assert summary.reliable is None and summary.category == "not assessable" and summary.threshold is None


def test_support_scale_summary():
    # 2.5 -> 3.0 -> 4.2: +1.7 from baseline (reliable, 2.5 clinical -> 4.2 not): recovered.
    summary = summarise([(1, 2.5), (4, 3.0), (8, 4.2)], SUPPORT)
    assert summary.change_from_baseline == pytest.approx(1.7)
    assert summary.change_from_previous == pytest.approx(1.2)
    assert summary.percent_change == pytest.approx(68.0)  # 1.7 / 2.5 x 100
    assert summary.improvement == pytest.approx(1.7) and summary.direction == "improved"
    assert summary.category == "recovered"
    assert summary.responded is None  # undefined on higher-is-better scales
    assert summary.in_remission is False  # 4.2 is not > 5.0


def test_summary_with_rci_and_floor():
    # JT params: 20 -> 15, RCI = -2.132007; reliable; 15 is still >= 10: reliably improved.
    summary = summarise([(1, 20), (2, 15)], JT, floor=10)
    assert summary.rci == pytest.approx(-2.132007, abs=1e-6)
    assert summary.category == "reliably improved"
    assert summary.responded is True  # 5 >= 0.5 x (20 - 10) = 5


def test_summary_serialises_to_json():
    summary = summarise([(1, 18), (2, 7)], phq9_params())
    data = json.loads(summary.model_dump_json())
    assert data["category"] == "recovered"
    assert data["threshold"] == {"points": 6.0, "method": "published", "inclusive": True, "se": None, "sdiff": None}
    assert ChangeSummary.model_validate(data) == summary
    pair = compare(18, 7, phq9_params()).model_dump(mode="json")
    assert (pair["change"], pair["category"], pair["reliable"]) == (-11, "recovered", True)
