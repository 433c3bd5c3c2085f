"""WHO-5 against hand-worked examples.

Expected values are worked by hand from the WHO-5 scoring notes (WHO 1998): five items 0-5 summed to a
raw score 0-25; percentage = raw x 4 (0-100); a raw score below 13 (percentage 48 or lower) indicates
poor well-being and testing for depression; a 10 % difference is a significant change. Missing rule
(project choice): none allowed.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def who5(*values):
    return score("who5", list(values))


def percentage(result):
    return next(s for s in result.subscales if s.id == "percentage")


@pytest.mark.parametrize(
    "answers, raw, pct, poor",
    [
        ((0, 0, 0, 0, 0), 0, 0, True),
        ((3, 3, 2, 2, 2), 12, 48, True),     # 12 < 13: poor well-being
        ((3, 3, 3, 2, 2), 13, 52, False),    # 13: not below 13
        ((5, 5, 5, 5, 5), 25, 100, False),
    ],
)
def test_threshold_on_both_sides_on_both_scales(answers, raw, pct, poor):
    result = who5(*answers)
    assert result.total.value == raw
    assert percentage(result).value == pct
    expected = "poor well-being: screen for depression" if poor else "above the poor well-being threshold"
    assert result.total.band == expected
    assert percentage(result).band == expected


def test_hand_worked_example():
    # 4+3+2+4+5 = 18 raw, x 4 = 72 %.
    result = who5(4, 3, 2, 4, 5)
    assert (result.total.value, percentage(result).value) == (18, 72)


def test_minimum_and_maximum():
    assert (who5(0, 0, 0, 0, 0).total.value, who5(5, 5, 5, 5, 5).total.value) == (0, 25)


def test_any_missing_answer_leaves_both_scores_unscored():
    result = who5(4, 3, None, 4, 5)
    assert result.total.value is None and percentage(result).value is None


def test_change_parameters_higher_is_better():
    inst = get_instrument("who5")
    raw, pct = inst.scales
    assert (raw.change.higher_is_worse, raw.change.reliable_change, raw.change.clinical_cutoff) == (False, 2.5, 12)
    assert (pct.change.higher_is_worse, pct.change.reliable_change, pct.change.clinical_cutoff) == (False, 10, 48)
    assert pct.multiplier == 4


def test_no_critical_items():
    assert get_instrument("who5").critical == []
    assert who5(0, 0, 0, 0, 0).flags == []


def test_contract():
    assert check_instrument(get_instrument("who5")) == []


def test_cli_score_and_show(invoke):
    result = invoke("score", "who5", "--answers", "3,3,2,2,2")
    assert result.exit_code == 0
    assert "Total: 12, poor well-being: screen for depression" in result.output
    assert "(percentage score): 48" in result.output
    shown = invoke("instruments", "show", "who5")
    assert shown.exit_code == 0
    assert "Topp CW, Østergaard SD, Søndergaard S, Bech P" in shown.output


def test_licence_is_not_public_domain_and_no_wording_is_shipped():
    # WHO's current WHO-5 form is CC BY-NC-SA 3.0 IGO: free of charge, not public domain. Its NonCommercial
    # term cannot pass through this Apache-2.0 package, so neither item nor answer wording ships.
    inst = get_instrument("who5")
    assert inst.licence.startswith("CC BY-NC-SA 3.0 IGO")
    assert "public domain" not in inst.licence
    assert all(item.text is None and item.label for item in inst.items)
    labels = " ".join(o.label for o in inst.options)
    for wording in ("All of the time", "Most of the time", "At no time"):
        assert wording not in labels
    assert "cheerful" not in inst.model_dump_json().lower()
