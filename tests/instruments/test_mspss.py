"""MSPSS against hand-worked examples.

Expected values are worked by hand from Zimet et al. 1988 and the author's 2016 scoring sheet: items 1-7,
no reversed items; Significant Other = mean of items 1, 2, 5, 10; Family = mean of 3, 4, 8, 11; Friends =
mean of 6, 7, 9, 12; total = mean of all 12; bands for any mean scale score 1-2.9 low, 3-5 moderate,
5.1-7 high. Means are rounded half-up to one decimal before banding (this project's reading of bands
written to one decimal); the stored value stays the exact mean and only its display is rounded. Missing rule (project choice, none published): total scored with up to 2 of 12
missing, each subscale with up to 1 of 4 missing, as the mean of the answered items.

Rounding edges: a mean of exactly 2.95 or 5.05 cannot come from real answers (k/12, k/11, k/10 and k/4
never equal them), so the edges are tested with the nearest reachable means: 35/12 = 2.917 -> 2.9 low
against 36/12 = 3.0 moderate, and 60/12 = 5.0 moderate against 61/12 = 5.083 -> 5.1 high.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def mspss(*values):
    return score("mspss", list(values))


def sub(result, scale_id):
    return next(s for s in result.subscales if s.id == scale_id)


def shown(scale):
    """(exact value, value as displayed, band)."""
    return scale.value, scale.display(), scale.band


@pytest.mark.parametrize(
    "answers, mean, display, band",
    [
        ((1,) * 12, 1.0, "1", "low support"),
        ((3,) * 11 + (2,), 35 / 12, "2.9", "low support"),       # 35 / 12 = 2.917 -> 2.9
        ((3,) * 12, 3.0, "3", "moderate support"),               # 36 / 12 = 3.0
        ((5,) * 12, 5.0, "5", "moderate support"),               # 60 / 12 = 5.0
        ((5,) * 11 + (6,), 61 / 12, "5.1", "high support"),      # 61 / 12 = 5.083 -> 5.1
        ((7,) * 12, 7.0, "7", "high support"),
    ],
)
def test_total_band_edges_on_both_sides(answers, mean, display, band):
    assert shown(mspss(*answers).total) == (mean, display, band)


def test_the_machine_readable_mean_is_exact():
    # Issue 10: answers summing to 45 are a mean of 3.75; JSON, exports and the store keep 3.75 and only the
    # display rounds (half-up) to the published one decimal.
    result = mspss(4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3)
    assert shown(result.total) == (3.75, "3.8", "moderate support")
    assert result.model_dump(mode="json")["total"]["value"] == 3.75


def test_hand_worked_example_and_each_subscale():
    # Items 1,2,5,10 = 7; items 3,4,8,11 = 1; items 6,7,9,12 = 4.
    # Total (28 + 4 + 16) / 12 = 4.0 moderate; SO 7.0 high; Family 1.0 low; Friends 4.0 moderate.
    result = mspss(7, 7, 1, 1, 7, 4, 4, 1, 4, 7, 1, 4)
    assert (result.total.value, result.total.band) == (4.0, "moderate support")
    assert (sub(result, "significant-other").value, sub(result, "significant-other").band) == (7.0, "high support")
    assert (sub(result, "family").value, sub(result, "family").band) == (1.0, "low support")
    assert (sub(result, "friends").value, sub(result, "friends").band) == (4.0, "moderate support")


def test_subscale_rounding_edges():
    # Family items 3,4,8,11 = 2,3,3,3: 11/4 = 2.75 -> 2.8 low; all 3 -> 3.0 moderate.
    low = mspss(4, 4, 2, 3, 4, 4, 4, 3, 4, 4, 3, 4)
    assert shown(sub(low, "family")) == (2.75, "2.8", "low support")
    moderate = mspss(4, 4, 3, 3, 4, 4, 4, 3, 4, 4, 3, 4)
    assert (sub(moderate, "family").value, sub(moderate, "family").band) == (3.0, "moderate support")
    # Friends items 6,7,9,12 = 5,5,5,6: 21/4 = 5.25 -> 5.3 high (half-up); all 5 -> 5.0 moderate.
    high = mspss(4, 4, 4, 4, 4, 5, 5, 4, 5, 4, 4, 6)
    assert shown(sub(high, "friends")) == (5.25, "5.3", "high support")
    mid = mspss(4, 4, 4, 4, 4, 5, 5, 4, 5, 4, 4, 5)
    assert (sub(mid, "friends").value, sub(mid, "friends").band) == (5.0, "moderate support")


def test_half_up_not_bankers_rounding():
    # Significant Other items 1,2,5,10 = 2,2,2,3: 9/4 = 2.25 -> 2.3 (banker's rounding would give 2.2).
    result = mspss(2, 2, 4, 4, 2, 4, 4, 4, 4, 3, 4, 4)
    assert shown(sub(result, "significant-other"))[1:] == ("2.3", "low support")


def test_minimum_and_maximum():
    assert mspss(*[1] * 12).total.value == 1.0
    assert mspss(*[7] * 12).total.value == 7.0


def test_missing_within_the_limits():
    # Items 1 and 2 missing. Total = (5+6+7+1+2+3+4+5+6+7) / 10 = 46/10 = 4.6 moderate.
    # Significant Other (1,2,5,10): 2 of 4 missing -> not scored.
    # Family (3,4,8,11) = 5,6,3,6 -> 20/4 = 5.0 moderate; Friends (6,7,9,12) = 1,2,4,7 -> 14/4 = 3.5 moderate.
    result = mspss(None, None, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7)
    assert (result.total.value, result.total.band, result.total.missing) == (4.6, "moderate support", 2)
    so = sub(result, "significant-other")
    assert so.value is None and so.missing == 2
    assert sub(result, "family").value == 5.0
    assert sub(result, "friends").value == 3.5


def test_one_missing_in_a_subscale_is_the_mean_of_the_other_three():
    # Item 1 missing: Significant Other (2,5,10) = 6,6,7 -> 19/3 = 6.33 -> 6.3 high.
    result = mspss(None, 6, 4, 4, 6, 4, 4, 4, 4, 7, 4, 4)
    so = sub(result, "significant-other")
    assert (so.value, so.display(), so.band, so.missing) == (19 / 3, "6.3", "high support", 1)


def test_three_missing_leave_the_total_unscored():
    result = mspss(None, None, None, 4, 4, 4, 4, 4, 4, 4, 4, 4)
    assert result.total.value is None and result.total.missing == 3
    assert sub(result, "friends").value == 4.0


def test_no_reversed_items_and_higher_is_better():
    inst = get_instrument("mspss")
    assert all(scale.reversed == [] for scale in inst.scales)
    assert all(scale.decimals == 1 and scale.method == "mean" for scale in inst.scales)
    # Higher answers never lower the score: every item at 7 beats every item at 6.
    assert mspss(*[7] * 12).total.value > mspss(*[6] * 12).total.value


def test_contract():
    assert check_instrument(get_instrument("mspss")) == []


def test_cli_score_and_show(invoke):
    result = invoke("score", "mspss", "--answers", "7,7,1,1,7,4,4,1,4,7,1,4")
    assert result.exit_code == 0
    assert "Total: 4, moderate support" in result.output
    assert "Family: 1, low support" in result.output
    shown = invoke("instruments", "show", "mspss")
    assert shown.exit_code == 0
    assert "Zimet GD, Dahlem NW, Zimet SG, Farley GK" in shown.output
