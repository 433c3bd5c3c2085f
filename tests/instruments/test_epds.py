"""EPDS against hand-worked examples.

Expected values are worked by hand from Cox, Holden & Sagovsky 1987 (Br J Psychiatry 150:782-786) and its
scoring instructions: items 1, 2 and 4 score 0-1-2-3 from the top printed answer down; items 3 and 5-10 score
3-2-1-0; total = sum, 0-30; 10 or more possible depression, 13 or more probable depression (12/13 threshold);
any score above 0 on item 10 prompts assessment. Answers are entered as the item score. Not scoring with any item
missing is the project choice stated in epds.toml; the reliable-change threshold of 4 is Matthey 2004.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument

_ = None
FORWARD = ("1", "2", "4")                                   # printed 0, 1, 2, 3 (Cox et al. 1987)
REVERSE = ("3", "5", "6", "7", "8", "9", "10")             # asterisked: printed 3, 2, 1, 0


def epds(*values):
    assert len(values) == 10
    return score("epds", list(values))


def test_contract():
    assert check_instrument(get_instrument("epds")) == []


def test_option_values_follow_the_printed_key():
    inst = get_instrument("epds")
    for item_id in FORWARD:
        assert [o.value for o in inst.options_for(inst.item(item_id))] == [0, 1, 2, 3]
    for item_id in REVERSE:
        assert [o.value for o in inst.options_for(inst.item(item_id))] == [3, 2, 1, 0]


def test_the_top_printed_answer_scores_by_the_key():
    # Ticking the top printed answer on item 3 ("asterisked") adds 3; on item 1 it adds 0.
    inst = get_instrument("epds")
    top = {i: inst.options_for(inst.item(i))[0].value for i in ("1", "3")}
    assert epds(top["1"], 0, 0, 0, 0, 0, 0, 0, 0, 0).total.value == 0
    assert epds(0, 0, top["3"], 0, 0, 0, 0, 0, 0, 0).total.value == 3


@pytest.mark.parametrize(
    "values, total, band",
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "below screening threshold"),
        ((1, 1, 1, 1, 1, 1, 1, 1, 1, 0), 9, "below screening threshold"),
        ((2, 1, 1, 1, 1, 1, 1, 1, 1, 0), 10, "possible depression"),
        ((2, 2, 2, 1, 1, 1, 1, 1, 1, 0), 12, "possible depression"),
        ((2, 2, 2, 2, 1, 1, 1, 1, 1, 0), 13, "probable depression"),
        ((3, 3, 3, 3, 3, 3, 2, 1, 0, 0), 21, "probable depression"),
        ((3, 3, 3, 3, 3, 3, 3, 3, 3, 3), 30, "probable depression"),
    ],
)
def test_bands_boundaries_minimum_and_maximum(values, total, band):
    result = epds(*values).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 1+0+2+1+2+1+0+1+0+0 = 8: below threshold, no flag.
    result = epds(1, 0, 2, 1, 2, 1, 0, 1, 0, 0)
    assert (result.total.value, result.total.band, result.flags) == (8, "below screening threshold", [])


def test_all_answered_is_scored_and_one_missing_is_not():
    assert epds(1, 1, 1, 1, 1, 1, 1, 1, 1, 1).total.value == 10
    result = epds(1, 1, 1, 1, _, 1, 1, 1, 1, 1).total
    assert (result.value, result.band, result.missing) == (None, None, 1)


def test_item_10_at_zero_raises_no_flag():
    assert epds(3, 3, 3, 3, 3, 3, 3, 3, 3, 0).flags == []


@pytest.mark.parametrize("item10", [1, 2, 3])
def test_item_10_flags_above_zero(item10):
    flags = epds(0, 0, 0, 0, 0, 0, 0, 0, 0, item10).flags
    assert [(f.item, f.kind, f.value) for f in flags] == [("10", "self-harm", item10)]


def test_change_and_codes():
    inst = get_instrument("epds")
    change = inst.primary.change
    assert (change.reliable_change, change.clinical_cutoff, change.higher_is_worse) == (4, 13, True)
    assert inst.loinc == "71354-5" and inst.primary.loinc is None
    assert all(item.text is None for item in inst.items)  # RCPsych copyright: no wording shipped


def test_cli_score(invoke):
    result = invoke("score", "epds", "--answers", "2,2,2,2,1,1,1,1,1,0")
    assert result.exit_code == 0
    assert "Total: 13, probable depression" in result.output


def test_cli_show_includes_citation(invoke):
    result = invoke("instruments", "show", "epds")
    assert result.exit_code == 0
    assert "Cox JL, Holden JM, Sagovsky R" in result.output and "1987;150:782-786" in result.output
