"""GDS-15 against hand-worked examples.

Expected values are worked by hand from the GDS-15 scoring key (Sheikh & Yesavage 1986; key as distributed with
the short form): one point for 'no' to items 1, 5, 7, 11, 13 and for 'yes' to items 2, 3, 4, 6, 8, 9, 10, 12, 14,
15; total 0-15; bands by the distributed key: 0-5 normal, more than 5 suggests depression, 10 or more almost
always indicates depression (sources in gds15.toml). Answers are
entered as 1 = yes, 0 = no. Not scoring with any item missing is the project choice stated in gds15.toml.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument

_ = None
YES, NO = 1, 0
NO_IS_DEPRESSIVE = (1, 5, 7, 11, 13)


def gds(*values):
    assert len(values) == 15
    return score("gds15", list(values))


def answers(depressive):
    """Give the depressive answer on the listed items and the non-depressive answer elsewhere."""
    out = []
    for n in range(1, 16):
        dep = n in depressive
        if n in NO_IS_DEPRESSIVE:
            out.append(NO if dep else YES)
        else:
            out.append(YES if dep else NO)
    return out


def test_contract():
    assert check_instrument(get_instrument("gds15")) == []


def test_minimum_and_maximum_by_the_key():
    # Not depressed: yes to 1, 5, 7, 11, 13 and no to the rest -> 0.
    assert gds(YES, NO, NO, NO, YES, NO, YES, NO, NO, NO, YES, NO, YES, NO, NO).total.value == 0
    # Every depressive answer: no to 1, 5, 7, 11, 13 and yes to the rest -> 15.
    assert gds(NO, YES, YES, YES, NO, YES, NO, YES, YES, YES, NO, YES, NO, YES, YES).total.value == 15


def test_answering_yes_to_everything():
    # 'Yes' scores on the ten negatively worded items only: 10, the key's 'almost always depression'.
    result = gds(*[YES] * 15).total
    assert (result.value, result.band) == (10, "almost always indicates depression")


def test_answering_no_to_everything():
    # 'No' scores on the five positively worded items only: 5, still normal by the key (greater than 5 suggests
    # depression); the dropped four-band scheme called this 'mild depression'.
    result = gds(*[NO] * 15).total
    assert (result.value, result.band) == (5, "normal")


@pytest.mark.parametrize("item", NO_IS_DEPRESSIVE)
def test_each_positively_worded_item_scores_for_no(item):
    assert gds(*answers({item})).total.value == 1
    values = answers(set())
    assert values[item - 1] == YES and gds(*values).total.value == 0


@pytest.mark.parametrize("item", [2, 3, 4, 6, 8, 9, 10, 12, 14, 15])
def test_each_negatively_worded_item_scores_for_yes(item):
    values = answers({item})
    assert values[item - 1] == YES and gds(*values).total.value == 1


@pytest.mark.parametrize(
    "depressive, total, band",
    [
        (set(), 0, "normal"),
        ({1, 2, 3, 4, 5}, 5, "normal"),
        ({1, 2, 3, 4, 5, 6}, 6, "suggests depression: assess further"),
        ({1, 2, 3, 4, 5, 6, 7, 8, 9}, 9, "suggests depression: assess further"),
        ({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, "almost always indicates depression"),
        (set(range(1, 16)), 15, "almost always indicates depression"),
    ],
)
def test_every_band_boundary(depressive, total, band):
    result = gds(*answers(depressive)).total
    assert (result.value, result.band) == (total, band)


def test_hand_worked_example():
    # Yes to 1 (0), no to 5 (1), yes to 3 (1), yes to 9 (1), no to 13 (1); non-depressive elsewhere -> 4, normal.
    values = answers({5, 3, 9, 13})
    assert gds(*values).total.value == 4
    assert gds(*values).total.band == "normal"


def test_missing_rule():
    complete = answers({2, 3})
    assert gds(*complete).total.value == 2
    one_missing = complete[:]
    one_missing[14] = _
    result = gds(*one_missing).total
    assert (result.value, result.band, result.missing) == (None, None, 1)


def test_no_critical_items():
    assert get_instrument("gds15").critical == []


def test_cli_score(invoke):
    result = invoke("score", "gds15", "--answers", ",".join(["1"] * 15))
    assert result.exit_code == 0
    assert "Total: 10, almost always indicates depression" in result.output


def test_cli_show_includes_citation(invoke):
    result = invoke("instruments", "show", "gds15")
    assert result.exit_code == 0
    assert "Sheikh JI, Yesavage JA" in result.output and "1986;5(1-2):165-173" in result.output


def test_bands_follow_the_distributed_key_without_overlap():
    # Issue 10: the old '5-8 mild' band was cited to a page printing overlapping bands; the key says 0-5 normal,
    # more than 5 suggests depression, 10 or more almost always depression.
    scale = get_instrument("gds15").primary
    assert [(b.min, b.max) for b in scale.bands] == [(0, 5), (6, 9), (10, 15)]
    assert scale.change.clinical_cutoff == 6
    assert "Sheikh" in scale.bands_source
