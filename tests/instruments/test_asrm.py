"""ASRM against hand-worked examples.

Expected values are worked by hand from Altman et al. 1997 (Biol Psychiatry 42:948-955): five items,
each with its own five statements scored 0-4, total = sum (0-20); scores > 5 (6 or more) mark a high
probability of mania or hypomania. Missing rule and reliable change are project choices (see asrm.toml).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument
from ipt_measures.errors import InvalidAnswers


def asrm(*values):
    return score("asrm", list(values))


def test_definition_passes_the_contract():
    assert check_instrument(get_instrument("asrm")) == []


def test_each_item_has_its_own_five_answers_and_no_text():
    inst = get_instrument("asrm")
    assert inst.options is None
    labels = []
    for item in inst.items:
        assert item.text is None and item.label
        assert [o.value for o in item.options] == [0, 1, 2, 3, 4]
        labels.append(tuple(o.label for o in item.options))
    assert len(set(labels)) == 5  # the answers differ from item to item
    assert [i.label for i in inst.items] == [
        "Positive mood", "Self-confidence", "Sleep patterns", "Speech", "Activity level"
    ]


@pytest.mark.parametrize("values, total, band", [
    ((0, 0, 0, 0, 0), 0, "below mania cut-off"),
    ((1, 1, 1, 1, 1), 5, "below mania cut-off"),
    ((2, 1, 1, 1, 1), 6, "high probability of mania or hypomania"),
    ((4, 4, 4, 4, 4), 20, "high probability of mania or hypomania"),
])
def test_cut_off_is_six(values, total, band):
    result = asrm(*values).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # 3 + 2 + 4 + 1 + 0 = 10 -> high probability of mania or hypomania.
    result = asrm(3, 2, 4, 1, 0).total
    assert (result.value, result.band) == (10, "high probability of mania or hypomania")


def test_no_item_based_critical_rule():
    # The cut-off is a total-score signal; no ASRM item is a safety item (see notes in asrm.toml).
    inst = get_instrument("asrm")
    assert inst.critical == []
    assert asrm(4, 4, 4, 4, 4).flags == []


def test_any_missing_answer_leaves_it_unscored():
    result = asrm(4, 4, 4, 4, None).total
    assert result.value is None and result.band is None


def test_out_of_range_answer_is_refused():
    with pytest.raises(InvalidAnswers):
        asrm(0, 0, 5, 0, 0)


def test_change_parameters():
    change = get_instrument("asrm").primary.change
    assert (change.higher_is_worse, change.clinical_cutoff, change.reliable_change) == (True, 6, 5)
    assert "Altman" in change.source and "Project choice" in change.source
