"""The generic scorer: sums, means, reversal, groups, proration, bands and critical flags."""

import pytest

from ipt_measures.errors import InvalidAnswers
from ipt_measures.scoring import answers_from_list, parse_answer_list, score

from instrument_factory import definition, instrument


def total(inst, answers):
    return score(inst, answers).total


def test_sum_and_band():
    inst = instrument()
    result = total(inst, {"1": 1, "2": 1, "3": 1, "4": 1})
    assert (result.value, result.band, result.missing) == (4, "low", 0)
    assert total(inst, {"1": 2, "2": 1, "3": 1, "4": 1}).band == "mid"


def test_prorating_within_the_missing_limit_rounds_half_up():
    # 1 of 4 missing, allowed: (2 + 2 + 1) x 4 / 3 = 6.67 -> 7
    result = total(instrument(), {"1": 2, "2": 2, "3": 1, "4": None})
    assert (result.value, result.prorated, result.missing) == (7, True, 1)
    # (1 + 0 + 0) x 4 / 3 = 1.33 -> 1; (1 + 1 + 0) x 4/3 = 2.67 -> 3
    assert total(instrument(), {"1": 1, "2": 0, "3": 0}).value == 1
    assert total(instrument(), {"1": 1, "2": 1, "3": 0}).value == 3


def test_beyond_the_missing_limit_the_scale_is_not_scored():
    result = total(instrument(), {"1": 2, "2": 2})
    assert result.value is None and result.band is None
    assert "2 of 4 answers missing (the rule allows 1)" in result.note


def test_reversed_items_use_their_own_option_range():
    scale = definition()["scales"][0]
    scale.update(reversed=["2"])
    inst = instrument(scales=[scale])
    assert total(inst, {"1": 0, "2": 0, "3": 0, "4": 0}).value == 3
    assert total(inst, {"1": 0, "2": 3, "3": 0, "4": 0}).value == 0


def test_mean_scale_with_decimals_and_missing():
    scale = definition()["scales"][0]
    scale.update(method="mean", decimals=2, bands=[], missing={"max_missing": 1, "source": "t"})
    inst = instrument(scales=[scale])
    assert total(inst, {"1": 1, "2": 2, "3": 2, "4": 2}).value == 1.75
    three = total(inst, {"1": 1, "2": 2, "3": 2})
    assert (three.value, three.display()) == (5 / 3, "1.67")  # exact mean kept; display rounds half-up


def test_group_max_counts_as_one_component():
    data = definition()
    data["scales"][0].update(
        items=["sleep", "3", "4"],
        groups=[{"id": "sleep", "items": ["1", "2"], "method": "max"}],
        bands=[],
        missing={"max_missing": 0, "source": "t"},
    )
    inst = instrument(**data)
    assert total(inst, {"1": 1, "2": 3, "3": 0, "4": 1}).value == 4
    # A group with one of its items answered is not missing.
    assert total(inst, {"1": None, "2": 2, "3": 0, "4": 1}).value == 3
    assert total(inst, {"1": None, "2": None, "3": 0, "4": 1}).value is None


def test_multiplier_gives_percentage_scores():
    scale = definition()["scales"][0]
    scale.update(multiplier=25 / 3, decimals=0, bands=[])
    assert total(instrument(scales=[scale]), {"1": 3, "2": 3, "3": 3, "4": 3}).value == 100


def test_critical_flag_carries_the_answer_label():
    flags = score(instrument(), {"1": 0, "2": 0, "3": 0, "4": 2}).flags
    assert [(f.item, f.value, f.answer) for f in flags] == [("4", 2, "option 2")]
    assert score(instrument(), {"1": 3, "2": 3, "3": 3, "4": 1}).flags == []
    assert score(instrument(), {"1": 3, "2": 3, "3": 3, "4": None}).flags == []


@pytest.mark.parametrize(
    "answers, message",
    [
        ({"1": 4}, "4 is not an allowed answer (0 to 3)"),
        ({"9": 1}, "has no item '9'"),
        ({"1": "2"}, "is not a whole number"),
        ({"1": True}, "is not a whole number"),
    ],
)
def test_bad_answers_are_refused(answers, message):
    with pytest.raises(InvalidAnswers, match=message.replace("(", r"\(").replace(")", r"\)")):
        score(instrument(), answers)


def test_answer_lists_map_in_item_order():
    assert answers_from_list(instrument(), [1, None, 2, 3]) == {"1": 1, "2": None, "3": 2, "4": 3}
    with pytest.raises(InvalidAnswers, match="takes 4 answers, got 3"):
        answers_from_list(instrument(), [1, 2, 3])


def test_parse_answer_list_accepts_blanks_and_dashes():
    assert parse_answer_list("1,2,,-, 3") == [1, 2, None, None, 3]
    assert parse_answer_list("1 2 s 0") == [1, 2, None, 0]
    with pytest.raises(InvalidAnswers, match="answer 2 \\('x'\\) is not a whole number"):
        parse_answer_list("1,x")
