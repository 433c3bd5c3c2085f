"""HRSD-17 against hand-worked examples.

Expected values are worked by hand from Hamilton 1960 and the 17-item NINDS form: items 1-3, 7-11 and 15 rated
0-4; items 4-6, 12-14, 16 and 17 rated 0-2; item 16 rated either as 16A (history) or 16B (weekly weight); total
0-52. Bands 0-7 no depression, 8-16 mild, 17-23 moderate, 24-52 severe (Zimmerman et al. 2013 cut-offs 17 and 24;
remission <= 7, Trivedi et al. 2006). Item 3 (suicide) is flagged at 1 or more (threshold justified in
hrsd17.toml). Not scoring with any item unrated is the project choice stated there.
Answer order: items 1-15, 16A, 16B, 17.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument
from ipt_measures.errors import InvalidAnswers

_ = None
ZERO_TO_FOUR = ("1", "2", "3", "7", "8", "9", "10", "11", "15")
ZERO_TO_TWO = ("4", "5", "6", "12", "13", "14", "16a", "16b", "17")
ORDER = [str(n) for n in range(1, 16)] + ["16a", "16b", "17"]


def hrsd(**ratings):
    """Every item 0, 16B blank (weight rated by history), then the given ratings (keys like i1, i16a)."""
    values = {item: 0 for item in ORDER}
    values["16b"] = _
    for key, value in ratings.items():
        values[key[1:]] = value
    return score("hrsd17", [values[item] for item in ORDER])


def test_contract():
    assert check_instrument(get_instrument("hrsd17")) == []


def test_item_ranges_are_as_published():
    inst = get_instrument("hrsd17")
    for item_id in ZERO_TO_FOUR:
        assert [o.value for o in inst.options_for(inst.item(item_id))] == [0, 1, 2, 3, 4]
    for item_id in ZERO_TO_TWO:
        assert [o.value for o in inst.options_for(inst.item(item_id))] == [0, 1, 2]


def test_a_0_2_item_refuses_3():
    with pytest.raises(InvalidAnswers):
        hrsd(i4=3)


def test_minimum_and_maximum():
    assert hrsd().total.value == 0
    # 9 items x 4 = 36, items 4-6 and 12-14 x 2 = 12, 16A = 2, 17 = 2: 52.
    top = {f"i{i}": 4 for i in ZERO_TO_FOUR}
    top.update({f"i{i}": 2 for i in ("4", "5", "6", "12", "13", "14", "16a", "17")})
    result = hrsd(**top).total
    assert (result.value, result.band) == (52, "severe")


@pytest.mark.parametrize(
    "ratings, total, band",
    [
        ({}, 0, "no depression"),
        ({"i1": 2, "i7": 2, "i4": 1, "i5": 1, "i13": 1}, 7, "no depression"),
        ({"i1": 2, "i7": 2, "i4": 1, "i5": 1, "i13": 2}, 8, "mild"),
        ({"i1": 3, "i2": 2, "i7": 3, "i10": 2, "i4": 2, "i5": 2, "i13": 2}, 16, "mild"),
        ({"i1": 3, "i2": 2, "i7": 3, "i10": 2, "i4": 2, "i5": 2, "i13": 2, "i11": 1}, 17, "moderate"),
        ({"i1": 3, "i2": 3, "i7": 3, "i10": 3, "i11": 3, "i4": 2, "i5": 2, "i13": 2, "i16a": 2}, 23, "moderate"),
        ({"i1": 3, "i2": 3, "i7": 3, "i10": 3, "i11": 3, "i4": 2, "i5": 2, "i13": 2, "i16a": 2, "i17": 1}, 24, "severe"),
    ],
)
def test_every_band_boundary(ratings, total, band):
    result = hrsd(**ratings).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 2+1+0 +1+2+0 +2+1+1 +2+1 +1+1+1 +1 +1(16A) +0 = 18 -> moderate, no flag.
    result = hrsd(i1=2, i2=1, i4=1, i5=2, i7=2, i8=1, i9=1, i10=2, i11=1, i12=1, i13=1, i14=1, i15=1, i16a=1)
    assert (result.total.value, result.total.band, result.flags) == (18, "moderate", [])


def test_item_16_counts_once_from_either_16a_or_16b():
    assert hrsd(i16a=2).total.value == 2               # by history
    assert hrsd(i16a=_, i16b=1).total.value == 1       # by weekly weight instead
    # Both rated by mistake: the higher counts once (2), never the sum (3).
    assert hrsd(i16a=1, i16b=2).total.value == 2


def test_every_item_rated_is_scored_and_one_unrated_is_not():
    assert hrsd(i1=1).total.value == 1
    result = hrsd(i1=_).total
    assert (result.value, result.band, result.missing) == (None, None, 1)
    # Weight loss not assessed either way (16A and 16B blank): item 16 missing -> not scored.
    assert hrsd(i16a=_).total.value is None


def test_item_3_at_zero_raises_no_flag():
    assert hrsd(i1=4, i2=4).flags == []


@pytest.mark.parametrize("item3", [1, 2, 3, 4])
def test_item_3_flags_at_1_or_more(item3):
    flags = hrsd(i3=item3).flags
    assert [(f.item, f.kind, f.value) for f in flags] == [("3", "suicidality", item3)]


def test_cli_score(invoke):
    # The hand-worked example (18, moderate) as an 18-field answer list; 16B empty.
    answers = "2,1,0,1,2,0,2,1,1,2,1,1,1,1,1,1,,0"
    result = invoke("score", "hrsd17", "--answers", answers)
    assert result.exit_code == 0
    assert "Total: 18, moderate" in result.output


def test_cli_show_includes_citation(invoke):
    result = invoke("instruments", "show", "hrsd17")
    assert result.exit_code == 0
    assert "Hamilton M. A rating scale for depression" in result.output and "1960;23(1):56-62" in result.output
