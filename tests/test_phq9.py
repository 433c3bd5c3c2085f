"""PHQ-9 against hand-worked examples.

Expected values are worked by hand from Kroenke, Spitzer & Williams 2001 (sum of items 1-9, bands
0-4/5-9/10-14/15-19/20-27, item 9 > 0 flagged) and the NHS Data Dictionary 'Patient Health Questionnaire-9'
(one or two missing items replaced by the mean of the answered ones, i.e. sum x 9 / answered rounded
half-up; more than two missing: disregarded). LOINC codes as used by the HL7 personal-health-record-format-ig
PHQ-9 QuestionnaireResponse (items 1-9), the LHC-Forms PHQ-9 Questionnaire and the MII PRO ValueSet for
answer list LL359-1 (item 10).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def phq9(*values):
    return score("phq9", list(values))


@pytest.mark.parametrize(
    "total, band",
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
     (15, "moderately severe"), (19, "moderately severe"), (20, "severe"), (27, "severe")],
)
def test_every_band_boundary(total, band):
    # Fill items 1-8 first so item 9 stays 0 except at 25+ (no flag needed for banding).
    values = [min(3, max(0, total - 3 * i)) for i in range(9)]
    assert sum(values) == total
    result = phq9(*values).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 1+2+0+1+1+0+2+1+0 = 8 -> mild, no flag; item 10 recorded, not scored.
    result = phq9(1, 2, 0, 1, 1, 0, 2, 1, 0, 3)
    assert (result.total.value, result.total.band, result.flags) == (8, "mild", [])


def test_issue_example_is_25_severe_with_flag():
    result = phq9(3, 3, 3, 3, 3, 3, 3, 3, 1)
    assert (result.total.value, result.total.band) == (25, "severe")
    assert [(f.item, f.kind, f.answer) for f in result.flags] == [("9", "suicidality", "Several days")]


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_item9_flags_whenever_above_zero(item9):
    assert phq9(0, 0, 0, 0, 0, 0, 0, 0, item9).flags[0].value == item9


def test_missing_within_the_limit_is_prorated():
    # 2 missing: (2+2+2+1+1+1+1) = 10 x 9 / 7 = 12.86 -> 13, moderate.
    result = phq9(2, 2, 2, 1, None, 1, 1, 1, None).total
    assert (result.value, result.band, result.prorated, result.missing) == (13, "moderate", True, 2)
    # 1 missing: 8 x 9 / 8 = 9, mild.
    assert phq9(1, 1, 1, 1, 1, 1, 1, 1, None).total.value == 9


def test_missing_beyond_the_limit_is_not_scored():
    result = phq9(3, 3, 3, 3, 3, 3, None, None, None).total
    assert result.value is None and result.band is None and result.missing == 3


def test_minimum_and_maximum():
    assert phq9(*[0] * 9).total.value == 0
    assert phq9(*[3] * 9).total.value == 27


def test_prorating_rounds_half_up_across_a_band_edge():
    # 1 missing: 1+1+1+1 = 4 x 9 / 8 = 4.5 -> 5, mild (banker's rounding would give 4, minimal).
    result = phq9(1, 1, 1, 1, 0, 0, 0, 0, None).total
    assert (result.value, result.band) == (5, "mild")


def test_missing_rule_cites_the_nhs_data_dictionary():
    rule = get_instrument("phq9").primary.missing
    assert (rule.max_missing, rule.prorate) == (2, True)
    assert "NHS Data Dictionary" in rule.source


def test_change_parameters():
    change = get_instrument("phq9").primary.change
    assert (change.higher_is_worse, change.reliable_change, change.clinical_cutoff) == (True, 6, 10)
    assert (change.remission, change.reliability) == (5, 0.89)


def test_loinc_codes():
    inst = get_instrument("phq9")
    assert (inst.loinc, inst.primary.loinc) == ("44249-1", "44261-6")
    assert [i.loinc for i in inst.items] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8", "69722-7",
    ]
    assert [o.loinc for o in inst.options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    # LL359-1: "Very difficult" is LA6575-0 and "Extremely difficult" LA6574-3 (not in numeric order).
    assert [(o.value, o.label, o.loinc) for o in inst.item("10").options] == [
        (0, "Not difficult at all", "LA6572-7"),
        (1, "Somewhat difficult", "LA6573-5"),
        (2, "Very difficult", "LA6575-0"),
        (3, "Extremely difficult", "LA6574-3"),
    ]


def test_contract():
    assert check_instrument(get_instrument("phq9")) == []
