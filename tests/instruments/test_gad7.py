"""GAD-7 against hand-worked examples.

Expected values are worked by hand from Spitzer, Kroenke, Williams & Löwe 2006 (sum of items 1-7, 0-21;
cut points 5, 10, 15: 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe; item 8, the difficulty question,
is recorded and not scored) and the NHS Data Dictionary 'Generalised Anxiety Disorder Questionnaire' (one or
two missing items replaced by the mean of the answered ones, i.e. sum x 7 / answered, rounded half-up;
more than two missing: not scored; 8 or above clinically significant). LOINC codes: HL7
personal-health-record-format-ig GAD-7 Questionnaire; MII PRO (70274-6).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument
from ipt_measures.errors import InvalidAnswers


def gad7(*values):
    return score("gad7", list(values))


@pytest.mark.parametrize(
    "answers, total, band",
    [
        ((0, 0, 0, 0, 0, 0, 0), 0, "minimal"),
        ((1, 1, 1, 1, 0, 0, 0), 4, "minimal"),
        ((1, 1, 1, 1, 1, 0, 0), 5, "mild"),
        ((2, 2, 2, 1, 1, 1, 0), 9, "mild"),
        ((2, 2, 2, 1, 1, 1, 1), 10, "moderate"),
        ((2, 2, 2, 2, 2, 2, 2), 14, "moderate"),
        ((3, 2, 2, 2, 2, 2, 2), 15, "severe"),
        ((3, 3, 3, 3, 3, 3, 3), 21, "severe"),
    ],
)
def test_every_band_boundary_on_both_sides(answers, total, band):
    result = gad7(*answers).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example_with_difficulty_recorded_not_scored():
    # 1+2+3+0+1+2+1 = 10 -> moderate; item 8 ("very difficult") changes nothing.
    with_item8 = gad7(1, 2, 3, 0, 1, 2, 1, 2).total
    without = gad7(1, 2, 3, 0, 1, 2, 1).total
    assert (with_item8.value, with_item8.band) == (10, "moderate")
    assert without.value == 10
    assert gad7(1, 2, 3, 0, 1, 2, 1, 3).total.value == 10


def test_minimum_and_maximum():
    assert gad7(*[0] * 7).total.value == 0
    assert gad7(*[3] * 7).total.value == 21


def test_two_missing_are_prorated():
    # 2+1+2+1+3 = 9 from 5 answered: 9 x 7 / 5 = 12.6 -> 13, moderate.
    result = gad7(2, 1, None, 2, 1, None, 3).total
    assert (result.value, result.band, result.prorated, result.missing) == (13, "moderate", True, 2)


def test_one_missing_rounds_half_up():
    # 1+1+1 = 3 from 6 answered: 3 x 7 / 6 = 3.5 -> 4 (half-up; banker's rounding would give 4 as well,
    # so also check 5 x 7 / 6 = 5.83 -> 6 and 9 x 7 / 6 = 10.5 -> 11, where banker's would give 10).
    assert gad7(1, 1, 1, 0, 0, 0, None).total.value == 4
    assert gad7(1, 1, 1, 1, 1, 0, None).total.value == 6
    result = gad7(2, 2, 2, 1, 1, 1, None).total
    assert (result.value, result.band) == (11, "moderate")


def test_three_missing_are_not_scored():
    result = gad7(3, 3, 3, 3, None, None, None).total
    assert result.value is None and result.band is None and result.missing == 3


def test_out_of_range_answer_is_refused():
    with pytest.raises(InvalidAnswers):
        gad7(4, 0, 0, 0, 0, 0, 0)


def test_no_critical_items():
    # The GAD-7 has no suicidality or self-harm item; nothing is ever flagged.
    assert get_instrument("gad7").critical == []
    assert gad7(*[3] * 7).flags == []


def test_change_parameters():
    change = get_instrument("gad7").primary.change
    assert change.higher_is_worse is True
    assert (change.reliable_change, change.clinical_cutoff, change.reliability) == (4, 8, 0.92)


def test_loinc_codes():
    inst = get_instrument("gad7")
    assert inst.loinc == "69737-5"
    assert inst.primary.loinc == "70274-6"
    assert [i.loinc for i in inst.items] == [
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7", None,
    ]
    assert [o.loinc for o in inst.options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    # Item 2's answer codes are disputed between sources, so none are claimed.
    assert all(o.loinc is None for o in inst.item("2").options)


def test_contract():
    assert check_instrument(get_instrument("gad7")) == []


def test_cli_score_and_show(invoke):
    result = invoke("score", "gad7", "--answers", "1,2,3,0,1,2,1")
    assert result.exit_code == 0
    assert "Total: 10, moderate" in result.output
    shown = invoke("instruments", "show", "gad7")
    assert shown.exit_code == 0
    assert "Spitzer RL, Kroenke K, Williams JBW, Löwe B" in shown.output
