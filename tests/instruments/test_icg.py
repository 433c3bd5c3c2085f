"""ICG against hand-worked examples.

Expected values are worked by hand from Prigerson et al. 1995 (Psychiatry Res 59:65-79): 19 items rated
0-4 (never .. always), total = sum (0-76), > 25 marks complicated grief (bands 0-25 / 26-76); the
project's missing rule (prorate up to 2 of 19); the change threshold of Shear et al. 2005 (20 points).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def icg(*values):
    return score("icg", list(values))


def test_definition_passes_the_contract():
    assert check_instrument(get_instrument("icg")) == []


def test_shape_matches_the_paper():
    inst = get_instrument("icg")
    assert [i.id for i in inst.items] == [str(n) for n in range(1, 20)]
    assert [(o.value, o.label) for o in inst.options] == [
        (0, "Never"), (1, "Rarely"), (2, "Sometimes"), (3, "Often"), (4, "Always")
    ]
    assert inst.primary.range == (0, 76)


def test_no_item_text_is_shipped():
    # Licence not clearly free: labels only (see licence_note).
    inst = get_instrument("icg")
    assert all(item.text is None and item.label for item in inst.items)
    assert inst.instructions is None


def test_no_critical_item_is_invented():
    # No ICG item asks about suicidal thoughts (checked against the published item list).
    assert get_instrument("icg").critical == []


@pytest.mark.parametrize("total, band", [
    (0, "below complicated-grief cut-off"),
    (25, "below complicated-grief cut-off"),
    (26, "complicated grief indicated"),
    (76, "complicated grief indicated"),
])
def test_cut_off_is_above_25(total, band):
    values = [min(4, max(0, total - 4 * i)) for i in range(19)]
    assert sum(values) == total
    result = icg(*values).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 2+3+1+4+2+1+0+0+1+2+0+1+3+0+0+1+2+1+3 = 27 -> > 25, complicated grief indicated.
    result = icg(2, 3, 1, 4, 2, 1, 0, 0, 1, 2, 0, 1, 3, 0, 0, 1, 2, 1, 3).total
    assert (result.value, result.band) == (27, "complicated grief indicated")


def test_two_missing_are_prorated():
    # 17 answered, sum 24: 24 x 19 / 17 = 26.82 -> 27, over the cut-off although the raw sum is 24.
    values = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, None, None]
    result = icg(*values).total
    assert (result.value, result.prorated, result.missing) == (27, True, 2)
    assert result.band == "complicated grief indicated"


def test_three_missing_are_not_scored():
    result = icg(*([4] * 16 + [None] * 3)).total
    assert result.value is None and result.band is None


def test_change_parameters_cite_their_sources():
    change = get_instrument("icg").primary.change
    assert (change.higher_is_worse, change.reliable_change, change.clinical_cutoff) == (True, 20, 26)
    assert "Shear" in change.source and "Prigerson" in change.source
