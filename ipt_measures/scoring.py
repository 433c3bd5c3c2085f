"""The generic scorer: totals, subscales, reversal, group rules, missing-item rules, bands and critical flags.

A plugin replaces it for one instrument through the ``score_instrument`` hook; this scorer is registered
``trylast`` so any plugin answer wins. Its version is stored with every score it produces.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Optional

from .errors import InvalidAnswers
from .plain import Flag, ScaleScore, Score, item_range, round_half_up

if TYPE_CHECKING:
    from .plain import Instrument, Scale

Answer = Optional[int]  # an item's value as given, or None when it was skipped or declined

SCORER = "generic/1"

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
    # Checked here even when the registry checked them: with the lookups precomputed a check costs about
    # 1 us of a 14 us score, and a plugin earlier in the hook chain may have changed them.
    answers = check_answers(instrument, answers)
    plan = _plan(instrument)
    results = [_score_scale(plan.scale(scale, instrument), answers) for scale in instrument.scales]
    return Score(
        instrument=instrument.id,
        instrument_version=instrument.version,
        scorer=SCORER,
        total=results[0],
        subscales=results[1:],
        flags=_critical_flags(plan, answers),
    )


def score_scale(instrument: Instrument, scale: Scale, answers: Mapping[str, Answer]) -> ScaleScore:
    return _score_scale(_plan(instrument).scale(scale, instrument), answers)


def _score_scale(plan: "_ScalePlan", answers: Mapping[str, Answer]) -> ScaleScore:
    scale = plan.scale
    get = answers.get
    reversal = plan.reversal  # item id -> low + high of its own options, for reversed items only

    def value_of(item_id: str) -> Optional[float]:
        value = get(item_id)
        if value is None:
            return None
        if item_id in reversal:
            return reversal[item_id] - value
        return value

    components: list[Optional[float]]
    short: list[str] = []  # max groups scored from fewer items than a full answer has
    if plan.items_only and not reversal:  # the common case: one component per item, as answered
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
    extra: dict = {}
    if scale.method == "mean":
        raw = sum(answered) / len(answered)
    else:
        raw = sum(answered)
        if missing and scale.missing.prorate:
            raw = raw * len(components) / len(answered)
            extra["prorated"] = True
            extra["note"] = f"prorated from {len(answered)} of {len(components)} answers"
    scaled = raw * scale.multiplier
    # A whole-number sum is already rounded to 0 decimals: round_half_up would return it unchanged.
    rounded = scaled if type(scaled) is int and scale.decimals == 0 else round_half_up(scaled, scale.decimals)
    # Bands are published to the scale's decimals, so the band is read from the rounded value. A mean keeps its
    # exact value (MSPSS answers summing to 45 are 3.75, not 3.8): rounding is display only. A sum keeps the
    # rounded value, because there rounding a prorated total to whole points is the published rule itself.
    value = scaled if scale.method == "mean" else rounded
    band = band_for(scale, rounded)
    if band is not None:
        extra["band"], extra["band_severity"] = band.label, band.severity
    if scale.decimals:
        extra["decimals"] = scale.decimals
    if short:
        extra["note"] = "; ".join(filter(None, [extra.get("note"), *short]))
    result = ScaleScore(id=scale.id, name=scale.name, answered=len(answered), missing=missing, **extra)
    result.value = value  # assigned, not validated: a whole-number score stays an int, as it always has
    return result


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
            flags.append(Flag(item=rule.item, value=value, answer=label, kind=rule.kind, message=rule.message))
    return flags


def _describe_values(values: list[int]) -> str:
    values = sorted(values)
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(v) for v in values)


# -- per-instrument lookups, built once per definition -------------------------------------------------


class _ScalePlan:
    """A scale's components (item id, or group id with its group) and its reversed items' low + high."""

    __slots__ = ("scale", "components", "reversal", "items_only")

    def __init__(self, instrument: Instrument, scale: Scale):
        groups = {g.id: g for g in scale.groups}
        self.scale = scale
        self.components = tuple((ref, groups.get(ref)) for ref in scale.items)
        self.reversal = {item_id: sum(item_range(instrument, item_id)) for item_id in scale.reversed}
        self.items_only = not any(group is not None for _, group in self.components)


class _Plan:
    """What checking and scoring one instrument needs, worked out once from its (frozen) definition."""

    __slots__ = ("known", "items", "scales", "critical")

    def __init__(self, instrument: Instrument):
        self.known = frozenset(item.id for item in instrument.items)
        self.items = tuple(
            (item.id, frozenset(values), tuple(values))
            for item, values in ((item, [o.value for o in instrument.options_for(item)]) for item in instrument.items)
        )
        self.scales = {id(scale): _ScalePlan(instrument, scale) for scale in instrument.scales}
        self.critical = []
        for rule in instrument.critical:
            labels: dict[int, str] = {}
            for option in instrument.options_for(instrument.item(rule.item)):
                labels.setdefault(option.value, option.label)  # the first option with the value, as before
            self.critical.append((rule, labels))

    def scale(self, scale: Scale, instrument: Instrument) -> _ScalePlan:
        plan = self.scales.get(id(scale))
        if plan is None or plan.scale is not scale:  # a scale that is not one of this definition's own
            plan = _ScalePlan(instrument, scale)
        return plan


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
