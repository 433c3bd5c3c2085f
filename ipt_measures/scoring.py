"""The generic scorer: totals, subscales, reversal, group rules, missing-item rules, bands and critical flags.

A plugin replaces it for one instrument through the ``score_instrument`` hook; this scorer is registered
``trylast`` so any plugin answer wins. Its version is stored with every score it produces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from .errors import InvalidAnswers
from .models import Answer, Flag, Instrument, Scale, ScaleScore, Score, item_range, round_half_up

SCORER = "generic/1"


def check_answers(instrument: Instrument, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """Validate a mapping item id -> value (None = missing). Returns it with every item present."""
    known = {item.id for item in instrument.items}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise InvalidAnswers(f"{instrument.id} has no item {unknown[0]!r}")
    checked: dict[str, Answer] = {}
    for item in instrument.items:
        value = answers.get(item.id)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidAnswers(f"{instrument.id} item {item.id}: {value!r} is not a whole number")
            allowed = [o.value for o in instrument.options_for(item)]
            if value not in allowed:
                raise InvalidAnswers(
                    f"{instrument.id} item {item.id}: {value} is not an allowed answer "
                    f"({_describe_values(allowed)})"
                )
        checked[item.id] = value
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
        if part in ("", "-", "s", "S"):
            values.append(None)
            continue
        try:
            values.append(int(part))
        except ValueError:
            raise InvalidAnswers(f"answer {position} ({part!r}) is not a whole number") from None
    return values


def score(instrument: Instrument, answers: Mapping[str, Answer]) -> Score:
    """Score complete or partial answers with the instrument's declared rules."""
    answers = check_answers(instrument, answers)
    results = [score_scale(instrument, scale, answers) for scale in instrument.scales]
    return Score(
        instrument=instrument.id,
        instrument_version=instrument.version,
        scorer=SCORER,
        total=results[0],
        subscales=results[1:],
        flags=critical_flags(instrument, answers),
    )


def score_scale(instrument: Instrument, scale: Scale, answers: Mapping[str, Answer]) -> ScaleScore:
    groups = {g.id: g for g in scale.groups}
    reversed_items = set(scale.reversed)

    def value_of(item_id: str) -> Optional[float]:
        value = answers.get(item_id)
        if value is None:
            return None
        if item_id in reversed_items:
            low, high = item_range(instrument, item_id)
            return low + high - value
        return value

    components: list[Optional[float]] = []
    for ref in scale.items:
        if ref in groups:
            group = groups[ref]
            present = [v for v in (value_of(m) for m in group.items) if v is not None]
            if not present:
                components.append(None)
            elif group.method == "max":
                components.append(max(present))
            elif group.method == "sum":
                # A partly answered summed group is prorated within the group.
                components.append(sum(present) * len(group.items) / len(present))
            else:
                components.append(sum(present) / len(present))
        else:
            components.append(value_of(ref))

    answered = [c for c in components if c is not None]
    missing = len(components) - len(answered)
    result = ScaleScore(id=scale.id, name=scale.name, answered=len(answered), missing=missing)
    if missing > scale.missing.max_missing:
        allowed = scale.missing.max_missing
        result.note = (
            f"not scored: {missing} of {len(components)} answers missing "
            f"(the rule allows {allowed})"
        )
        return result
    if scale.method == "mean":
        raw = sum(answered) / len(answered)
    else:
        raw = sum(answered)
        if missing and scale.missing.prorate:
            raw = raw * len(components) / len(answered)
            result.prorated = True
            result.note = f"prorated from {len(answered)} of {len(components)} answers"
    value = round_half_up(raw * scale.multiplier, scale.decimals)
    result.value = value
    band = band_for(scale, value)
    if band is not None:
        result.band, result.band_severity = band.label, band.severity
    return result


def band_for(scale: Scale, value: float):
    for band in scale.bands:
        if band.min <= value <= band.max:
            return band
    return None


def critical_flags(instrument: Instrument, answers: Mapping[str, Answer]) -> list[Flag]:
    flags = []
    for rule in instrument.critical:
        value = answers.get(rule.item)
        if rule.raised_by(value):
            item = instrument.item(rule.item)
            label = next((o.label for o in instrument.options_for(item) if o.value == value), str(value))
            flags.append(Flag(item=rule.item, value=value, answer=label, kind=rule.kind, message=rule.message))
    return flags


def _describe_values(values: list[int]) -> str:
    values = sorted(values)
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(v) for v in values)
