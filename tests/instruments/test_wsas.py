"""WSAS against hand-worked examples.

Expected values are worked by hand from Mundt et al. 2002 (five items rated 0-8, summed 0-40; below 10
subclinical, 10-20 significant functional impairment, above 20 moderately severe or worse) and the NHS
Data Dictionary 'Work and Social Adjustment Scale Score' (a not-applicable work item or one missing value
replaced by the mean of the answered items, i.e. sum x 5 / 4 rounded half-up; more than one missing: not
scored). Item text is not shipped (copyright retained by I. M. Marks).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def wsas(*values):
    return score("wsas", list(values))


@pytest.mark.parametrize(
    "answers, total, band",
    [
        ((0, 0, 0, 0, 0), 0, "subclinical"),
        ((2, 2, 2, 2, 1), 9, "subclinical"),
        ((2, 2, 2, 2, 2), 10, "significant impairment"),
        ((4, 4, 4, 4, 4), 20, "significant impairment"),
        ((5, 4, 4, 4, 4), 21, "moderately severe or worse"),
        ((8, 8, 8, 8, 8), 40, "moderately severe or worse"),
    ],
)
def test_every_band_boundary_on_both_sides(answers, total, band):
    result = wsas(*answers).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 3+5+6+2+4 = 20 -> significant impairment (20 is still "between 10 and 20").
    result = wsas(3, 5, 6, 2, 4).total
    assert (result.value, result.band) == (20, "significant impairment")


def test_minimum_and_maximum():
    assert wsas(0, 0, 0, 0, 0).total.value == 0
    assert wsas(8, 8, 8, 8, 8).total.value == 40


def test_work_item_not_applicable_is_prorated():
    # Retired: work item left out. 4+4+4+5 = 17 x 5 / 4 = 21.25 -> 21, moderately severe or worse.
    result = wsas(None, 4, 4, 4, 5).total
    assert (result.value, result.band, result.prorated, result.missing) == (21, "moderately severe or worse", True, 1)
    # 2+2+2+2 = 8 x 5 / 4 = 10 -> significant impairment.
    assert wsas(None, 2, 2, 2, 2).total.value == 10


def test_prorating_rounds_half_up():
    # 3+3+2+2 = 10 x 5 / 4 = 12.5 -> 13 (banker's rounding would give 12).
    assert wsas(None, 3, 3, 2, 2).total.value == 13
    # Any single item may be the missing one, not only the work item: 1+1+1+1 = 4 x 5/4 = 5.
    assert wsas(1, 1, None, 1, 1).total.value == 5


def test_two_missing_are_not_scored():
    result = wsas(None, 4, None, 4, 4).total
    assert result.value is None and result.band is None and result.missing == 2


def test_item_text_not_shipped():
    inst = get_instrument("wsas")
    assert all(item.text is None and item.label for item in inst.items)
    assert inst.critical == []


def test_contract():
    assert check_instrument(get_instrument("wsas")) == []


def test_cli_score_and_show(invoke):
    result = invoke("score", "wsas", "--answers", ",4,4,4,5")
    assert result.exit_code == 0
    assert "Total: 21, moderately severe or worse" in result.output
    shown = invoke("instruments", "show", "wsas")
    assert shown.exit_code == 0
    assert "Mundt JC, Marks IM, Shear MK, Greist JH" in shown.output


@pytest.mark.parametrize("instrument_id", ["wsas", "mspss", "ucla3"])
def test_show_says_reliable_change_is_not_assessable(invoke, instrument_id):
    # Issue 14: no reliability and SD from one sample (nor a published threshold) could be verified for the
    # interpersonal measures, so `instruments show` says reliable change is not assessable rather than inventing it.
    shown = invoke("instruments", "show", instrument_id)
    assert shown.exit_code == 0
    assert "Reliable change: not assessable" in shown.output


def test_show_does_not_say_not_assessable_where_a_threshold_exists(invoke):
    assert "not assessable" not in invoke("instruments", "show", "phq9").output
