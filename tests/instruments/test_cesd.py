"""CES-D against hand-worked examples.

Expected values are worked by hand from Radloff 1977 (Appl Psychol Meas 1:385-401): 20 items scored 0-3, items
4, 8, 12 and 16 reversed (answer 0 scores 3 ... answer 3 scores 0), total 0-60, 16 or more at the case cut-off;
and from the CES-D scoring sheet (more than four missing answers: not scored). Proration of 1-4 missing answers
(sum x 20 / answered, rounded half-up) is the project choice stated in cesd.toml.
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument

_ = None
REVERSED = (4, 8, 12, 16)


def cesd(*values):
    assert len(values) == 20
    return score("cesd", list(values))


def answers(**given):
    """All items at their symptom-free answer (0; 3 for the reversed items), then the given items."""
    values = {n: (3 if n in REVERSED else 0) for n in range(1, 21)}
    for key, value in given.items():
        values[int(key.lstrip("q"))] = value
    return [values[n] for n in range(1, 21)]


def test_contract():
    assert check_instrument(get_instrument("cesd")) == []


def test_minimum_and_maximum():
    # Symptom-free: 0 on the 16 plain items, 3 ("most of the time") on the 4 positive items -> 0.
    assert cesd(*answers()).total.value == 0
    # Most symptomatic: 3 on the plain items (16 x 3 = 48), 0 on the positive items (4 x 3 = 12) -> 60.
    worst = [0 if n in REVERSED else 3 for n in range(1, 21)]
    assert cesd(*worst).total.value == 60


def test_every_answer_one():
    # 16 plain items x 1 = 16; reversed items answered 1 score 3 + 0 - 1 = 2 each, x 4 = 8. Total 24.
    result = cesd(*[1] * 20).total
    assert (result.value, result.band) == (24, "at or above case cut-off (16)")


@pytest.mark.parametrize(
    "given, total, band",
    [
        ({}, 0, "below case cut-off"),
        # q1=3, q2=3, q3=2 -> 8.
        ({"q1": 3, "q2": 3, "q3": 2}, 8, "below case cut-off"),
        # 15 = five plain items at 3.
        ({"q1": 3, "q2": 3, "q3": 3, "q5": 3, "q6": 3}, 15, "below case cut-off"),
        # 16 = five plain items at 3 + q7 at 1.
        ({"q1": 3, "q2": 3, "q3": 3, "q5": 3, "q6": 3, "q7": 1}, 16, "at or above case cut-off (16)"),
        # 20 = six plain items at 3 (18) + q4 answered 1 (scores 2).
        ({"q1": 3, "q2": 3, "q3": 3, "q5": 3, "q6": 3, "q7": 3, "q4": 1}, 20, "at or above case cut-off (16)"),
    ],
)
def test_hand_worked_bands_and_the_16_boundary(given, total, band):
    result = cesd(*answers(**given)).total
    assert (result.value, result.band) == (total, band)


@pytest.mark.parametrize("item", REVERSED)
def test_each_reversed_item_scores_in_reverse(item):
    # Answering "rarely" (0) to a positively worded item is depressive: it adds 3; "most of the time" adds 0.
    assert cesd(*answers(**{f"q{item}": 0})).total.value == 3
    assert cesd(*answers(**{f"q{item}": 1})).total.value == 2
    assert cesd(*answers(**{f"q{item}": 3})).total.value == 0


def test_a_plain_item_is_not_reversed():
    assert cesd(*answers(q6=3)).total.value == 3


def test_four_missing_answers_are_prorated():
    # Items 17-20 blank; the 16 answered score 3+3+3+3+1 = 13 -> 13 x 20 / 16 = 16.25 -> 16: at the cut-off.
    values = answers(q1=3, q2=3, q3=3, q5=3, q6=1)
    values[16:20] = [_, _, _, _]
    result = cesd(*values).total
    assert (result.value, result.band, result.prorated, result.missing) == (16, "at or above case cut-off (16)", True, 4)


def test_one_missing_answer_is_prorated():
    # Item 20 blank; 19 answered sum to 19 (six plain items at 3 = 18, q7 = 1) -> 19 x 20 / 19 = 20.
    values = answers(q1=3, q2=3, q3=3, q5=3, q6=3, q9=3, q7=1)
    values[19] = _
    assert cesd(*values).total.value == 20


def test_five_missing_answers_are_not_scored():
    values = answers(q1=3, q2=3)
    values[15:20] = [_, _, _, _, _]
    result = cesd(*values).total
    assert (result.value, result.band, result.missing) == (None, None, 5)


def test_no_critical_items():
    assert get_instrument("cesd").critical == []
    assert cesd(*[0 if n in REVERSED else 3 for n in range(1, 21)]).flags == []


def test_cli_score(invoke):
    # All answers 1: 24 (see test_every_answer_one).
    result = invoke("score", "cesd", "--answers", ",".join(["1"] * 20))
    assert result.exit_code == 0
    assert "Total: 24, at or above case cut-off (16)" in result.output


def test_cli_show_includes_citation(invoke):
    result = invoke("instruments", "show", "cesd")
    assert result.exit_code == 0
    assert "Radloff LS. The CES-D Scale" in result.output and "1977;1(3):385-401" in result.output
