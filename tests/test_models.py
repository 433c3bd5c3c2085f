"""The instrument model rejects contradictions with a message that names where the problem is."""

import pytest

from ipt_measures.declarative import build_instrument
from ipt_measures.errors import InstrumentDefinitionError
from ipt_measures.models import round_half_up, scale_range

from instrument_factory import definition, instrument


def problems_of(data):
    with pytest.raises(InstrumentDefinitionError) as info:
        build_instrument(data, where="t.toml")
    return info.value.problems


def scale_with(**changes):
    scale = definition()["scales"][0]
    scale.update(changes)
    return [scale]


def test_valid_definition_builds():
    inst = instrument()
    assert inst.primary.id == "total"
    assert scale_range(inst, inst.primary) == (0, 12)


def test_band_gap_is_rejected():
    bands = [
        {"min": 0, "max": 4, "label": "low"},
        {"min": 6, "max": 8, "label": "mid"},
        {"min": 9, "max": 12, "label": "high"},
    ]
    [problem] = problems_of(definition(scales=scale_with(bands=bands)))
    assert "gap between bands 'low' (to 4) and 'mid' (from 6)" in problem
    assert problem.startswith("scales[0] (id 'total')")


def test_band_overlap_is_rejected():
    bands = [
        {"min": 0, "max": 5, "label": "low"},
        {"min": 5, "max": 8, "label": "mid"},
        {"min": 9, "max": 12, "label": "high"},
    ]
    assert "overlap" in problems_of(definition(scales=scale_with(bands=bands)))[0]


def test_bands_must_span_the_score_range():
    bands = [{"min": 0, "max": 4, "label": "low"}, {"min": 5, "max": 10, "label": "high"}]
    assert "score range is 0-12" in problems_of(definition(scales=scale_with(bands=bands)))[0]


def test_mean_scale_bands_follow_its_decimals():
    scale = scale_with(
        method="mean",
        decimals=1,
        missing={"max_missing": 0, "source": "t"},
        bands=[
            {"min": 0, "max": 1.4, "label": "low"},
            {"min": 1.5, "max": 3, "label": "high"},
        ],
    )
    assert instrument(scales=scale).primary.decimals == 1
    scale[0]["bands"][1]["min"] = 1.6
    assert "must start at 1.5" in problems_of(definition(scales=scale))[0]


def test_reversed_item_outside_the_scale_is_rejected():
    scale = scale_with(items=["1", "2", "3"], reversed=["4"], bands=[])
    assert problems_of(definition(scales=scale)) == ["scales[0] (id 'total').reversed: item '4' is not in the scale"]


def test_option_values_outside_the_declared_range_are_rejected():
    data = definition(scales=scale_with(range=[0, 12]))
    data["items"][2]["options"] = [{"value": 0, "label": "no"}, {"value": 4, "label": "typo"}]
    problem = problems_of(data)[0]
    assert "declared range 0-12" in problem and "0-13" in problem


def test_unknown_field_is_named_by_path():
    data = definition()
    data["items"][1]["txet"] = "typo"
    assert problems_of(data) == ["items[1] (id '2').txet: Extra inputs are not permitted"]


def test_duplicate_item_ids_and_unknown_scale_items():
    data = definition()
    data["items"][1]["id"] = "1"
    assert "item id '1' appears twice" in problems_of(data)[0]
    assert "unknown item '9'" in problems_of(definition(scales=scale_with(items=["1", "9"], bands=[])))[0]


def test_critical_rule_that_can_never_fire_is_rejected():
    data = definition(critical=[{"item": "4", "at_least": 7, "message": "never", "source": "t"}])
    assert "can never be raised" in problems_of(data)[0]


def test_change_reliability_and_sd_come_as_a_pair():
    scale = scale_with(change={"higher_is_worse": True, "reliability": 0.9, "source": "t"})
    assert "the RCI needs both reliability and sd" in problems_of(definition(scales=scale))[0]
    # A reliability given beside a published threshold is information, not an RCI input.
    published = scale_with(change={"higher_is_worse": True, "reliability": 0.9, "reliable_change": 6, "source": "t"})
    assert instrument(scales=published).primary.change.reliable_change == 6
    # Direction and cut-off alone are allowed: change is shown, reliable change is "not assessable".
    only_cutoff = scale_with(change={"higher_is_worse": True, "clinical_cutoff": 5, "source": "t"})
    assert instrument(scales=only_cutoff).primary.change.clinical_cutoff == 5


def test_bands_need_a_source():
    scale = scale_with()
    del scale[0]["bands_source"]
    assert "bands need bands_source" in problems_of(definition(scales=scale))[0]


def test_instrument_ids_are_short_lowercase_and_stable():
    assert "id" in problems_of(definition(id="PHQ 9"))[0]


@pytest.mark.parametrize("value, decimals, expected", [(2.5, 0, 3), (3.5, 0, 4), (2.45, 1, 2.5), (11.25, 1, 11.3), (2.449, 1, 2.4)])
def test_round_half_up_is_not_bankers_rounding(value, decimals, expected):
    assert round_half_up(value, decimals) == expected


def test_group_answered_when_cannot_exceed_its_items():
    from ipt_measures.models import Instrument

    data = {
        "id": "grp", "name": "Group test", "version": "1", "citation": "c", "scoring_source": "s",
        "licence": "l", "respondent": "self-report", "domain": "other",
        "options": [{"value": 0, "label": "no"}, {"value": 1, "label": "yes"}],
        "items": [{"id": str(n), "label": f"i{n}"} for n in (1, 2, 3)],
        "scales": [{"id": "total", "name": "T", "items": ["g", "3"], "method": "sum", "range": [0, 2],
                    "groups": [{"id": "g", "items": ["1", "2"], "method": "max", "answered_when": 3}],
                    "missing": {"max_missing": 0, "source": "t"}}],
    }
    with pytest.raises(Exception, match="answered_when 3 is more than its 2 items"):
        Instrument.model_validate(data)
