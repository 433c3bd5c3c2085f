"""The contract every registered instrument keeps, checked as properties over generated answer sets.

Runs over whatever ``ipt_measures.get_instruments()`` returns: the built-ins, installed plugins, and
(inside each test) the isolated instruments folder. Properties, each over ~50 generated answer sets:

- complete in-range answers score inside every scale's declared range, in a band that covers the value;
- a reversed item moves its scale the opposite way to a non-reversed item of the same scale;
- proration: with k <= max_missing answers missing, a prorated (or mean) scale equals the full set whose
  missing answers are the mean of the answered ones; with one more missing, the scale is not scored.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ipt_measures import get_instrument, get_instruments, score
from ipt_measures.contract import check_instrument
from ipt_measures.models import item_range, round_half_up, scale_range

EXPECTED_IDS = {
    "phq9", "qids-sr16", "cesd", "epds", "gds15", "hrsd17", "gad7", "k10",
    "mspss", "wsas", "ucla3", "icg", "who5", "pcl5", "asrm",
}

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    # The autouse isolated_data fixture only points paths at a temporary folder; examples never touch it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _collect_instruments():
    """Registered instruments at collection time, never reading the user's own instruments folder."""
    from ipt_measures.plugins import build_registry

    saved = os.environ.get("IPT_INSTRUMENTS_DIR")
    with tempfile.TemporaryDirectory() as empty:
        os.environ["IPT_INSTRUMENTS_DIR"] = os.path.join(empty, "none")
        try:
            return dict(build_registry().instruments)
        finally:
            if saved is None:
                os.environ.pop("IPT_INSTRUMENTS_DIR", None)
            else:
                os.environ["IPT_INSTRUMENTS_DIR"] = saved


INSTRUMENTS = _collect_instruments()
IDS = sorted(INSTRUMENTS)


def _direct(scale):
    """Items that are components of the scale themselves (not inside a group)."""
    grouped = {g.id for g in scale.groups}
    return [ref for ref in scale.items if ref not in grouped]


REVERSAL_CASES = [
    (inst.id, scale.id)
    for inst in INSTRUMENTS.values()
    for scale in inst.scales
    if set(scale.reversed) & set(_direct(scale)) and set(_direct(scale)) - set(scale.reversed)
]
PRORATION_CASES = [
    (inst.id, scale.id)
    for inst in INSTRUMENTS.values()
    for scale in inst.scales
    if not scale.groups and scale.missing.max_missing > 0 and (scale.missing.prorate or scale.method == "mean")
]
LIMIT_CASES = [(inst.id, scale.id) for inst in INSTRUMENTS.values() for scale in inst.scales if not scale.groups]


def _values(inst, item_id):
    return sorted(o.value for o in inst.options_for(inst.item(item_id)))


def _answers(inst):
    """Strategy: a complete, in-range answer set (every scored item answered)."""
    return st.fixed_dictionaries(
        {item.id: st.sampled_from(_values(inst, item.id)) for item in inst.items if not item.optional}
    )


def _scale(inst, scale_id):
    return next(s for s in inst.scales if s.id == scale_id)


def _value(inst, answers, scale_id):
    result = score(inst.id, answers)
    return next(s for s in result.scales if s.id == scale_id)


# -- the contract ---------------------------------------------------------------------------------


def test_every_expected_instrument_is_registered():
    missing = EXPECTED_IDS - set(get_instruments())
    assert not missing, f"not registered: {sorted(missing)}"


@pytest.mark.parametrize("instrument_id", IDS)
def test_contract(instrument_id):
    assert check_instrument(get_instrument(instrument_id)) == []


@pytest.mark.parametrize("instrument_id", IDS)
def test_every_number_has_a_source(instrument_id):
    inst = get_instrument(instrument_id)
    assert inst.citation.strip() and inst.licence.strip()
    for scale in inst.scales:
        assert scale.missing.source.strip(), f"scale {scale.id}: missing rule without a source"
        if scale.bands:
            assert (scale.bands_source or "").strip(), f"scale {scale.id}: bands without bands_source"
        if scale.change:
            assert scale.change.source.strip()
    assert inst.primary.change is not None, "the primary scale needs [scales.change]"
    assert inst.primary.change.source.strip()
    for rule in inst.critical:
        assert rule.source.strip()


# -- properties -----------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", IDS)
@PROPERTY
@given(data=st.data())
def test_complete_answers_score_in_range_and_in_a_covering_band(instrument_id, data):
    inst = get_instrument(instrument_id)
    answers = data.draw(_answers(inst), label="answers")
    result = score(inst.id, answers)
    for scale_score in result.scales:
        scale = _scale(inst, scale_score.id)
        low, high = scale.range if scale.range is not None else scale_range(inst, scale)
        assert scale_score.value is not None, f"{scale.id}: complete answers not scored"
        assert low <= scale_score.value <= high, f"{scale.id}: {scale_score.value} outside {low}-{high}"
        if scale.bands:
            band = next((b for b in scale.bands if b.label == scale_score.band), None)
            assert band is not None, f"{scale.id}: {scale_score.value} got no band"
            # The band is read from the value rounded to the scale's decimals (a mean keeps its exact value).
            assert band.min <= round_half_up(scale_score.value, scale.decimals) <= band.max


@pytest.mark.parametrize("instrument_id, scale_id", REVERSAL_CASES)
@PROPERTY
@given(data=st.data())
def test_reversed_items_move_the_scale_the_other_way(instrument_id, scale_id, data):
    inst = get_instrument(instrument_id)
    scale = _scale(inst, scale_id)
    direct = _direct(scale)
    reversed_item = data.draw(st.sampled_from([i for i in direct if i in scale.reversed]), label="reversed")
    plain_item = data.draw(st.sampled_from([i for i in direct if i not in scale.reversed]), label="plain")
    answers = data.draw(_answers(inst), label="answers")

    def swing(item_id):
        lo, hi = item_range(inst, item_id)
        at_min = _value(inst, {**answers, item_id: lo}, scale_id).value
        at_max = _value(inst, {**answers, item_id: hi}, scale_id).value
        return at_max - at_min

    assert swing(reversed_item) < 0 < swing(plain_item)


@pytest.mark.parametrize("instrument_id, scale_id", PRORATION_CASES)
@PROPERTY
@given(data=st.data())
def test_missing_within_the_limit_equals_the_mean_imputed_full_set(instrument_id, scale_id, data):
    inst = get_instrument(instrument_id)
    scale = _scale(inst, scale_id)
    k = data.draw(st.integers(1, scale.missing.max_missing), label="k")
    blank = data.draw(st.lists(st.sampled_from(scale.items), min_size=k, max_size=k, unique=True), label="blank")
    answers = data.draw(_answers(inst), label="answers")
    kept = [i for i in scale.items if i not in blank]

    def scored(item_id, raw):
        lo, hi = item_range(inst, item_id)
        return lo + hi - raw if item_id in scale.reversed else raw

    def raw_for(item_id, value):
        lo, hi = item_range(inst, item_id)
        return lo + hi - value if item_id in scale.reversed else value

    # Nudge the kept answers (within range) until their scored mean is a whole number.
    total = sum(scored(i, answers[i]) for i in kept)
    excess = total % len(kept)
    for item_id in kept:
        if excess == 0:
            break
        lo, hi = item_range(inst, item_id)
        value = scored(item_id, answers[item_id])
        step = min(excess, value - lo)
        candidate = raw_for(item_id, value - step)
        if step and candidate in _values(inst, item_id):
            answers[item_id] = candidate
            excess -= step
    assume(excess == 0)
    mean = Fraction(sum(scored(i, answers[i]) for i in kept), len(kept))
    assert mean.denominator == 1
    imputed = {i: raw_for(i, int(mean)) for i in blank}
    assume(all(imputed[i] in _values(inst, i) for i in blank))

    partial = _value(inst, {**answers, **{i: None for i in blank}}, scale_id)
    full = _value(inst, {**answers, **imputed}, scale_id)
    assert partial.missing == k
    assert partial.value is not None and partial.value == full.value
    assert partial.band == full.band


@pytest.mark.parametrize("instrument_id, scale_id", LIMIT_CASES)
@PROPERTY
@given(data=st.data())
def test_missing_beyond_the_limit_is_not_scored(instrument_id, scale_id, data):
    inst = get_instrument(instrument_id)
    scale = _scale(inst, scale_id)
    n = scale.missing.max_missing + 1
    blank = data.draw(st.lists(st.sampled_from(scale.items), min_size=n, max_size=n, unique=True), label="blank")
    answers = data.draw(_answers(inst), label="answers")
    result = _value(inst, {**answers, **{i: None for i in blank}}, scale_id)
    assert result.value is None and result.band is None and result.missing == n
