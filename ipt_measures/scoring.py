"""The generic scorer: totals, subscales, reversal, group rules, missing-item rules, bands and critical flags.

A plugin replaces it for one instrument through the ``score_instrument`` hook; this scorer is registered
``trylast`` so any plugin answer wins. Its version is stored with every score it produces.
"""

from __future__ import annotations

import math
import weakref
from operator import itemgetter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Optional

from .errors import InvalidAnswers
from .plain import Flag, ScaleScore, Score, item_range, new_flag, new_scale_score, new_score, round_half_up

if TYPE_CHECKING:
    from .plain import Instrument, Scale

Answer = Optional[int]  # an item's value as given, or None when it was skipped or declined

SCORER = "generic/1"

_NO_BAND = (None, None)
_FRACTIONS_KEPT = 4096  # fractional values remembered per scale (a mean of 12 items on a 1-7 scale has 73)


_TYPES_OK = frozenset({int, type(None)})  # bool is a subclass of int, not int: it takes the long way and is refused

# How a missing (skipped) answer is written in an answer list or a paper-form file.
MISSING_MARKS = frozenset({"", "-", "s", "S"})


def check_answers(instrument: Instrument, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """Validate a mapping item id -> value (None = missing). Returns it with every item present."""
    plan = _plan(instrument)
    if not plan.known.issuperset(answers):
        unknown = sorted(set(answers) - plan.known)
        raise InvalidAnswers(f"{instrument.id} has no item {unknown[0]!r}")
    checked: dict[str, Answer] = {}
    get = answers.get
    for item_id, allowed, allowed_in_order in plan.items:
        value = get(item_id)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidAnswers(f"{instrument.id} item {item_id}: {value!r} is not a whole number")
            if value not in allowed:
                raise InvalidAnswers(
                    f"{instrument.id} item {item_id}: {value} is not an allowed answer "
                    f"({_describe_values(list(allowed_in_order))})"
                )
        checked[item_id] = value
    return checked


def answers_from_list(instrument: Instrument, values: Sequence[Answer]) -> dict[str, Answer]:
    """Map answers given in item order; trailing optional (unscored) items may be left out."""
    plan = _plan(instrument)
    if plan.n_required <= len(values) <= plan.n_all and _TYPES_OK.issuperset(map(type, values)):
        # The usual case, checked at C speed: whole numbers (or None) that every item allows. Anything else
        # goes the long way below, which names the first item at fault.
        if plan.uniform is not None and plan.uniform.issuperset(values):
            checked = dict(zip(plan.ids, values))
            if len(values) < plan.n_all:
                checked.update(dict.fromkeys(plan.ids[len(values):]))
            return checked
    n_all = len(instrument.items)
    n_required = n_all
    while n_required > 0 and instrument.items[n_required - 1].optional:
        n_required -= 1
    if not n_required <= len(values) <= n_all:
        wanted = str(n_all) if n_required == n_all else f"{n_required} or {n_all}"
        raise InvalidAnswers(f"{instrument.id} takes {wanted} answers, got {len(values)}")
    return check_answers(instrument, {item.id: v for item, v in zip(instrument.items, values)})


def parse_answer_list(text: str) -> list[Answer]:
    """Parse '1,2,0,,3' or '1 2 0 - 3'; an empty field, '-' or 's' marks a missing answer."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")] if "," in text or ";" in text else text.split()
    values: list[Answer] = []
    for position, part in enumerate(parts, start=1):
        if part in MISSING_MARKS:
            values.append(None)
            continue
        try:
            values.append(int(part))
        except ValueError:
            raise InvalidAnswers(f"answer {position} ({part!r}) is not a whole number") from None
    return values


def score(instrument: Instrument, answers: Mapping[str, Answer]) -> Score:
    """Score complete or partial answers with the instrument's declared rules."""
    # Checked here even when the registry checked them: a plugin earlier in the hook chain may have changed them.
    return score_checked(instrument, check_answers(instrument, answers))


def score_checked(instrument: Instrument, answers: dict[str, Answer]) -> Score:
    """Score answers as ``check_answers`` or ``answers_from_list`` returned them (every item present, each checked)."""
    plan = _plan(instrument)
    results = [_score_scale(scale_plan, answers, True) for scale_plan in plan.ordered]
    return Score(instrument.id, instrument.version, SCORER, results[0], results[1:], _critical_flags(plan, answers))


def score_list(instrument: Instrument, values: Sequence[Answer]) -> Score:
    """Score answers given in item order: ``score(instrument, answers_from_list(instrument, values))``, with the
    usual case (whole numbers every item allows, scales of plain items) worked from the list by position."""
    entry = _PLANS.get(id(instrument))  # _plan(), inlined: this is the hot path of every score
    plan = entry[1] if entry is not None and entry[0]() is instrument else _plan(instrument)
    by_position = plan.by_position
    if by_position is not None:
        result = by_position(values)
        if result is not None:
            return result
    return score_checked(instrument, answers_from_list(instrument, values))


def score_mapping(instrument: Instrument, answers: Mapping[str, Answer]) -> Score:
    """``score(instrument, answers)`` for item id -> value: the answers in item order, scored by :func:`score_list`."""
    plan = _plan(instrument)
    if not plan.known.issuperset(answers):
        check_answers(instrument, answers)  # names the unknown item
    # Every item, in order (None where not given): what check_answers would check, item by item, in this order.
    return score_list(instrument, list(map(answers.get, plan.ids)))


def score_scale(instrument: Instrument, scale: Scale, answers: Mapping[str, Answer]) -> ScaleScore:
    return _score_scale(_plan(instrument).scale(scale, instrument), answers)


def _score_scale(plan: "_ScalePlan", answers: Mapping[str, Answer], complete: bool = False) -> ScaleScore:
    scale = plan.scale
    if complete and plan.gather is not None:  # the common case, every item present: gathered at C speed
        components = plan.gather(answers)
        if None not in components:  # and all answered: nothing missing, nothing to prorate
            n = len(components)
            raw = sum(components) if plan.mean is False else sum(components) / n
            return _result(plan, raw, n, 0, None, False)
    get = answers.get
    reversal = plan.reversal  # item id -> low + high of its own options, for reversed items only

    def value_of(item_id: str) -> Optional[float]:
        value = get(item_id)
        if value is None:
            return None
        if item_id in reversal:
            return reversal[item_id] - value
        return value

    short: list[str] = []  # max groups scored from fewer items than a full answer has
    if plan.items_only and not reversal:  # one component per item, as answered
        components = [get(ref) for ref in scale.items]
    elif plan.items_only:
        components = [value_of(ref) for ref in scale.items]
    else:
        components = [value_of(ref) if group is None else _group_value(group, value_of)
                      for ref, group in plan.components]
        short = _short_groups(plan, get)

    answered = [c for c in components if c is not None]
    missing = len(components) - len(answered)
    if missing > scale.missing.max_missing:
        allowed = scale.missing.max_missing
        note = f"not scored: {missing} of {len(components)} answers missing (the rule allows {allowed})"
        return ScaleScore(id=scale.id, name=scale.name, answered=len(answered), missing=missing, note=note)
    note, prorated = None, False
    if scale.method == "mean":
        raw = sum(answered) / len(answered)
    else:
        raw = sum(answered)
        if missing and scale.missing.prorate:
            raw = raw * len(components) / len(answered)
            prorated = True
            note = f"prorated from {len(answered)} of {len(components)} answers"
    if short:
        note = "; ".join(filter(None, [note, *short]))
    return _result(plan, raw, len(answered), missing, note, prorated)


def _result(plan: "_ScalePlan", raw: float, answered: int, missing: int, note: Optional[str],
            prorated: bool) -> ScaleScore:
    """A scored scale's value, rounding and band from its raw sum or mean."""
    scale = plan.scale
    scaled = raw * scale.multiplier
    decimals = scale.decimals
    if type(scaled) is int and decimals == 0 and plan.whole_bands is not None:  # a whole sum: rounded already
        label, severity = plan.whole_bands.get(scaled, _NO_BAND)
        return new_scale_score(scale.id, scale.name, scaled, label, severity, answered, missing, prorated, note, None)
    # A fraction (a mean, a prorated or multiplied sum) rounds and bands as it did the last time it was seen:
    # the same float gives the same result, and Decimal rounding is twenty times the cost of a lookup. Whole
    # values (0.0 and -0.0 among them, which compare equal but round to different floats) are never memoised.
    memo = plan.fractions
    known = memo.get(scaled) if type(scaled) is float else None
    if known is not None:
        rounded, label, severity = known
    else:
        rounded = round_half_up(scaled, decimals)
        # Bands are published to the scale's decimals, so the band is read from the rounded value (the first band
        # holding it, as band_for reads it). A mean keeps its exact value (MSPSS answers summing to 45 are 3.75,
        # not 3.8): rounding is display only. A sum keeps the rounded value, because there rounding a prorated
        # total to whole points is the published rule itself.
        for low, high, label, severity in plan.bands:
            if low <= rounded <= high:
                break
        else:
            label = severity = None
        if type(scaled) is float and not scaled.is_integer() and len(memo) < _FRACTIONS_KEPT:
            memo[scaled] = (rounded, label, severity)
    # The value assigned, not validated: a whole sum stays an int, as always.
    return new_scale_score(scale.id, scale.name, scaled if plan.mean else rounded, label, severity, answered, missing,
                           prorated, note, decimals or None)


def _group_value(group, value_of) -> Optional[float]:
    present = [v for v in (value_of(m) for m in group.items) if v is not None]
    if not present:
        return None
    if group.method == "max":
        return max(present)
    if group.method == "sum":
        # A partly answered summed group is prorated within the group.
        return sum(present) * len(group.items) / len(present)
    return sum(present) / len(present)


def _short_groups(plan: "_ScalePlan", get) -> list[str]:
    """Notes for max-of-items groups answered only in part: the highest blank item could raise the domain.

    No published rule covers this (Rush et al. 2003 and ids-qids.org give none for QIDS-SR16), so the domain
    is scored from its answered items, as a lower bound, and the score says so rather than passing as complete.
    """
    notes = []
    for ref, group in plan.components:
        if group is None or group.method != "max":
            continue
        answered = sum(1 for m in group.items if get(m) is not None)
        needed = group.answered_when or len(group.items)
        if 0 < answered < needed:
            notes.append(f"{ref} scored from {answered} of {needed} expected answers "
                         f"(items {', '.join(group.items)}): it may be higher")
    return notes


def band_for(scale: Scale, value: float):
    for band in scale.bands:
        if band.min <= value <= band.max:
            return band
    return None


def critical_flags(instrument: Instrument, answers: Mapping[str, Answer]) -> list[Flag]:
    return _critical_flags(_plan(instrument), answers)


def _critical_flags(plan: "_Plan", answers: Mapping[str, Answer]) -> list[Flag]:
    flags = []
    for rule, labels in plan.critical:
        value = answers.get(rule.item)
        if rule.raised_by(value):
            label = labels.get(value, str(value))
            flags.append(Flag(rule.item, value, label, rule.kind, rule.message))
    return flags


def _describe_values(values: list[int]) -> str:
    values = sorted(values)
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(v) for v in values)


# -- per-instrument lookups, built once per definition -------------------------------------------------


class _ScalePlan:
    """A scale's components (item id, or group id with its group) and its reversed items' low + high."""

    __slots__ = ("scale", "components", "reversal", "items_only", "gather", "mean", "bands", "whole_bands",
                 "fractions")

    def __init__(self, instrument: Instrument, scale: Scale):
        groups = {g.id: g for g in scale.groups}
        self.scale = scale
        self.components = tuple((ref, groups.get(ref)) for ref in scale.items)
        self.reversal = {item_id: sum(item_range(instrument, item_id)) for item_id in scale.reversed}
        self.items_only = not any(group is not None for _, group in self.components)
        self.mean = scale.method == "mean"
        self.bands = tuple((band.min, band.max, band.label, band.severity) for band in scale.bands)
        self.fractions: dict[float, tuple] = {}  # a fractional value -> (rounded, label, severity), as _result reads it
        # Each whole number the bands hold -> the first band holding it (as the loop in _result reads them).
        self.whole_bands: Optional[dict[int, tuple]] = {}
        for low, high, label, severity in self.bands:
            if not (math.isfinite(low) and math.isfinite(high) and high - low <= 100_000):
                self.whole_bands = None  # a band too wide to list: read one by one, as for a fractional score
                break
            for value in range(math.ceil(low), math.floor(high) + 1):
                self.whole_bands.setdefault(value, (label, severity))
        # Components as a tuple straight from a complete answer dict (itemgetter of one key returns no tuple).
        self.gather = (itemgetter(*scale.items) if len(scale.items) > 1 else None) \
            if self.items_only and not self.reversal else None


class _Plan:
    """What checking and scoring one instrument needs, worked out once from its (frozen) definition."""

    __slots__ = ("known", "items", "scales", "ordered", "critical", "ids", "n_all", "n_required", "uniform", "positions",
                 "padding", "critical_positions", "by_position")

    def __init__(self, instrument: Instrument):
        self.known = frozenset(item.id for item in instrument.items)
        self.ids = tuple(item.id for item in instrument.items)
        self.n_all = self.n_required = len(self.ids)
        while self.n_required > 0 and instrument.items[self.n_required - 1].optional:
            self.n_required -= 1
        self.items = tuple(
            (item.id, frozenset(values), tuple(values))
            for item, values in ((item, [o.value for o in instrument.options_for(item)]) for item in instrument.items)
        )
        allowed = {allowed for _, allowed, _ in self.items}
        # Every item allows the same answers (most scales): one set check covers a whole answer list.
        self.uniform = (allowed.pop() | {None}) if len(allowed) == 1 else None
        self.scales = {id(scale): _ScalePlan(instrument, scale) for scale in instrument.scales}
        self.ordered = tuple(self.scales[id(scale)] for scale in instrument.scales)  # as instrument.scales
        self.critical = []
        for rule in instrument.critical:
            labels: dict[int, str] = {}
            for option in instrument.options_for(instrument.item(rule.item)):
                labels.setdefault(option.value, option.label)  # the first option with the value, as before
            self.critical.append((rule, labels))
        # For answers given in item order (score_list): each scale's items by position, where every scale is
        # plain items (no groups, nothing reversed) and every item allows the same answers.
        index = {item_id: n for n, item_id in enumerate(self.ids)}
        self.padding = (None,) * self.n_all
        self.critical_positions = tuple(
            (rule, labels, index[rule.item], frozenset(v for v in labels if rule.raised_by(v)))
            for rule, labels in self.critical)
        self.positions = None
        if self.uniform is not None and all(p.gather is not None for p in self.ordered):
            self.positions = tuple((p, itemgetter(*(index[ref] for ref in p.scale.items))) for p in self.ordered)
        self.by_position = _by_position(self, instrument) if self.positions is not None else None

    def scale(self, scale: Scale, instrument: Instrument) -> _ScalePlan:
        plan = self.scales.get(id(scale))
        if plan is None or plan.scale is not scale:  # a scale that is not one of this definition's own
            plan = _ScalePlan(instrument, scale)
        return plan


def _by_position(plan: _Plan, instrument: Instrument):
    """The instrument's scoring plan for answers in item order, compiled once into one function: it scores the
    usual case (as many answers as the items, or without trailing optional ones; whole numbers, or None, that
    every item allows; scales of plain items) from the list by position and returns None for anything else,
    which then goes the long way (``answers_from_list``, ``score_checked``) and gets its error there. What it
    needs is bound in advance, so a call looks nothing up on the plan, the scales or the instrument."""
    n_required, n_all, padding, ids = plan.n_required, plan.n_all, plan.padding, plan.ids
    allowed, typed = plan.uniform.issuperset, _TYPES_OK.issuperset
    instrument_id, version, scorer = instrument.id, instrument.version, SCORER
    # Per scale: its plan, its items by position, its number of items, and what each sum of complete answers
    # scores (value, band, severity, decimals: filled in as sums are met, each worked out once by _result).
    scales = tuple((p, gather, len(p.scale.items), {}, p.scale.id, p.scale.name) for p, gather in plan.positions)
    critical = tuple((index, raising, rule.item, labels, rule.kind, rule.message)
                     for rule, labels, index, raising in plan.critical_positions)

    def flags_of(values) -> list:
        flags = []
        for index, raising, item, labels, kind, message in critical:
            value = values[index]
            if value in raising:  # the allowed answers rule.raised_by raises (every value here is one of them)
                flags.append(new_flag(item, value, labels[value], kind, message))
        return flags

    if len(scales) > 1:
        def by_position(values: Sequence[Answer]) -> Optional[Score]:
            n = len(values)
            if not (n_required <= n <= n_all and allowed(values) and typed(map(type, values))):
                return None
            if n < n_all:
                values = [*values, *padding[n:]]
            results = []
            for scale_plan, gather, k, by_sum, scale_id, name in scales:  # each as the one-scale path below
                components = gather(values)
                if None in components:
                    results.append(_score_scale(scale_plan, dict(zip(ids, values)), True))
                    continue
                fields = by_sum.get(sum(components))
                if fields is None:
                    fields = _complete_scale(scale_plan, by_sum, sum(components), k)
                results.append(new_scale_score(scale_id, name, fields[0], fields[1], fields[2], k, 0, False, None,
                                               fields[3]))
            return new_score(instrument_id, version, scorer, results[0], results[1:], flags_of(values))

        return by_position

    # One scale (PHQ-9, GAD-7, most instruments): flags_of written out too, the hottest path.
    scale_plan, gather, k, by_sum, scale_id, name = scales[0]
    single = critical[0] if len(critical) == 1 else None
    # A scale of the first k items, in order (PHQ-9's nine before its optional tenth): a list of exactly k answers
    # is its own components, with nothing to pad or gather.
    position = {item_id: n for n, item_id in enumerate(ids)}
    prefix = k if [position[ref] for ref in scale_plan.scale.items] == list(range(k)) and all(
        i < k for i, *_ in critical) else -1

    def by_position_one_scale(values: Sequence[Answer]) -> Optional[Score]:
        n = len(values)
        if not (n_required <= n <= n_all and allowed(values) and typed(map(type, values))):
            return None
        if n == prefix:
            components = values
        else:
            if n < n_all:
                values = [*values, *padding[n:]]
            components = gather(values)
        if None in components:
            total = _score_scale(scale_plan, dict(zip(ids, values)), True)
        else:
            fields = by_sum.get(sum(components))
            if fields is None:
                fields = _complete_scale(scale_plan, by_sum, sum(components), k)
            total = new_scale_score(scale_id, name, fields[0], fields[1], fields[2], k, 0, False, None, fields[3])
        if single is None:
            flags = flags_of(values)
        else:
            index, raising, item, labels, kind, message = single
            value = values[index]
            flags = [new_flag(item, value, labels[value], kind, message)] if value in raising else []
        return new_score(instrument_id, version, scorer, total, [], flags)

    return by_position_one_scale


def _complete_scale(plan: _ScalePlan, by_sum: dict, total: int, k: int) -> tuple:
    """What a scale of ``k`` plain items scores when all are answered and sum to ``total`` (a whole number: the
    answers were checked to be ints): value, band, severity and decimals, as _result gives them (a mean is the
    sum over k), remembered in ``by_sum``. The same sum always scores the same, so this runs once per sum."""
    result = _result(plan, total / k if plan.mean else total, k, 0, None, False)
    fields = (result.value, result.band, result.band_severity, result.decimals)
    if len(by_sum) < _FRACTIONS_KEPT:
        by_sum[total] = fields
    return fields


# Keyed by id(instrument), each entry holding a weak reference to its instrument: the entry is used only
# while that very object is alive (an id can be reused after it dies) and is dropped when it dies, so
# the cache never keeps a definition alive and a re-read file with the same id and version is never
# scored with the old definition's lookups.
_PLANS: dict[int, tuple["weakref.ref[Instrument]", _Plan]] = {}


def _plan(instrument: Instrument) -> _Plan:
    key = id(instrument)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is instrument:
        return entry[1]
    plan = _Plan(instrument)
    try:
        ref = weakref.ref(instrument, lambda dead, key=key: _forget(key, dead))
    except TypeError:  # an object that takes no weak reference: work it out on every call, never cache
        return plan
    _PLANS[key] = (ref, plan)
    return plan


def _forget(key: int, dead: "weakref.ref[Instrument]") -> None:
    entry = _PLANS.get(key)
    if entry is not None and entry[0] is dead:
        del _PLANS[key]
