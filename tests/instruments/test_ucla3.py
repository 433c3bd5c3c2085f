"""UCLA 3-item Loneliness Scale against hand-worked examples.

Expected values are worked by hand from Hughes, Waite, Hawkley & Cacioppo 2004 (three items scored
1 = hardly ever, 2 = some of the time, 3 = often; summed 3-9, higher = lonelier) with the ONS 2018
wording. No bands: no published cut-off was verified. Missing rule (project choice): none allowed.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument
from ipt_measures.errors import InvalidAnswers


def ucla3(*values):
    return score("ucla3", list(values))


def test_minimum_and_maximum():
    assert ucla3(1, 1, 1).total.value == 3
    assert ucla3(3, 3, 3).total.value == 9


@pytest.mark.parametrize("answers, total", [((1, 2, 3), 6), ((2, 2, 1), 5), ((3, 2, 3), 8)])
def test_hand_worked_sums(answers, total):
    result = ucla3(*answers).total
    assert (result.value, result.band) == (total, None)


@pytest.mark.parametrize("answers", [(None, 2, 3), (1, None, 3), (1, 2, None)])
def test_any_missing_answer_leaves_it_unscored(answers):
    result = ucla3(*answers).total
    assert result.value is None and result.missing == 1


def test_zero_is_not_an_answer():
    with pytest.raises(InvalidAnswers):
        ucla3(0, 1, 1)


def test_ons_wording_and_no_bands():
    inst = get_instrument("ucla3")
    assert [o.label for o in inst.options] == ["Hardly ever or never", "Some of the time", "Often"]
    assert inst.item("1").text == "How often do you feel that you lack companionship?"
    assert inst.primary.bands == []


def test_contract():
    assert check_instrument(get_instrument("ucla3")) == []


def test_cli_score_and_show(invoke):
    result = invoke("score", "ucla3", "--answers", "1,2,3")
    assert result.exit_code == 0
    assert "Total: 6" in result.output
    shown = invoke("instruments", "show", "ucla3")
    assert shown.exit_code == 0
    assert "Hughes ME, Waite LJ, Hawkley LC, Cacioppo JT" in shown.output
