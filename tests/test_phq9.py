"""PHQ-9 against hand-worked examples.

Expected values are worked by hand from Kroenke, Spitzer & Williams 2001 (sum of items 1-9, bands
0-4/5-9/10-14/15-19/20-27, item 9 > 0 flagged) and Kroenke et al. 2010 (prorate up to 2 missing items).
"""

import pytest

from ipt_measures import score


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
