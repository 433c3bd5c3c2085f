"""Pydantic models: the instrument definition, responses and scores.

The JSON Schemas in ``schemas/`` are generated from these models (``ipt schemas generate``) and a test
fails when they drift. Validation here is the plugin author's first line of defence: it rejects a
definition that contradicts itself (band gaps or overlaps, a reversed item that is not in the scale,
an option value outside the declared range) with a message that names the path in the file.
"""

from __future__ import annotations

import math
import re
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .domain import PROBLEM_AREAS
from .plain import AlertRuleTest, CriticalRuleTest, InstrumentHelpers
from .plain import format_score, item_range, round_half_up, scale_range  # noqa: F401 -- one copy, re-exported

ID_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Number = Union[int, float]


class _Strict(BaseModel):
    """Base for definition models: unknown keys are an error, so a typo in a file is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseOption(_Strict):
    """One answer an item accepts: the value scored and the label the respondent sees."""

    # Bounded: published scales score answers in single or double figures (the 15 shipped use 0-8); a huge
    # value is a typo, and one past Decimal's 28 digits would break the half-up rounding of the score range.
    value: int = Field(
        ge=-1000, le=1000, description="The number scored for this answer, as published (-1000 to 1000)."
    )
    label: str = Field(min_length=1, description="The answer as shown to the respondent.")
    loinc: Optional[str] = Field(
        default=None, description="LOINC answer code (LA...), only where verified in a published source."
    )


class Item(_Strict):
    """One question or clinician rating."""

    id: str = Field(pattern=ITEM_ID_PATTERN, description="Stable item id, e.g. '9' or 'sleep_onset'.")
    text: Optional[str] = Field(
        default=None,
        description="Item text, only where its licence allows shipping it; otherwise leave it out "
        "and give a short `label`.",
    )
    label: Optional[str] = Field(
        default=None, description="A short neutral name for the item (used when text is not shipped)."
    )
    options: Optional[list[ResponseOption]] = Field(
        default=None, description="Answers for this item; defaults to the instrument's `options`."
    )
    optional: bool = Field(
        default=False,
        description="Recorded but not scored and may be left out (e.g. PHQ-9's difficulty question).",
    )
    loinc: Optional[str] = Field(default=None, description="LOINC item code, only where verified.")

    def display(self) -> str:
        return self.text or self.label or f"Item {self.id}"


class ItemGroup(_Strict):
    """Items combined into one value before the scale is summed (e.g. QIDS-SR16 sleep = max of items 1-4)."""

    id: str = Field(pattern=ITEM_ID_PATTERN)
    items: list[str] = Field(min_length=2)
    method: Literal["max", "sum", "mean"] = "max"
    answered_when: Optional[int] = Field(
        default=None,
        ge=1,
        description="How many of its items a fully answered group has (default: all of them). QIDS-SR16's "
        "appetite/weight domain is complete with 2 of its 4 items (one of 6/7, one of 8/9). A max group "
        "answered short of this is still scored, with a note that the domain may be higher.",
    )


class MissingRule(_Strict):
    """The published rule for missing answers on one scale.

    Missing answers are counted per component (an item, or a group whose every item is missing).
    Up to ``max_missing`` missing components the scale is scored; beyond it the scale is not scored.
    With ``prorate`` a sum is scaled up to the full number of components (sum x n / answered);
    a mean is simply the mean of the answered components.
    """

    max_missing: int = Field(default=0, ge=0)
    prorate: bool = Field(default=False, description="Scale a sum up to the full number of components.")
    source: str = Field(
        min_length=1,
        description="Where the rule is published, or 'Project choice: ...' with the reason if none is.",
    )


class Band(_Strict):
    """An interpretation band: scores from `min` to `max` inclusive, after rounding to the scale's decimals."""

    min: float
    max: float
    label: str = Field(min_length=1)
    severity: int = Field(
        default=0, ge=0, description="0 for the healthiest band, rising with clinical concern; used for colour."
    )


class ChangeParams(_Strict):
    """What counts as change on a scale, each number with its source."""

    higher_is_worse: bool = Field(description="True for symptom scales; False for support and well-being.")
    reliability: Optional[float] = Field(default=None, gt=0, lt=1, description="Internal consistency (alpha).")
    sd: Optional[float] = Field(default=None, gt=0, description="Standard deviation of the reference sample.")
    reliable_change: Optional[float] = Field(
        default=None, gt=0, description="Published reliable-change threshold in scale points (wins over the RCI)."
    )
    clinical_cutoff: Optional[float] = Field(
        default=None,
        description="Caseness threshold: a score at or beyond it (in the worse direction) is in the clinical range.",
    )
    remission: Optional[float] = Field(
        default=None,
        description="Remission when the score is strictly better than this (e.g. PHQ-9 < 5 is remission at 5).",
    )
    response_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Response is an improvement of at least this fraction of baseline."
    )
    source: str = Field(min_length=1, description="Citations for every number given here.")


class Scale(_Strict):
    """A total or subscale: which items, how they combine, how to read the result."""

    id: str = Field(pattern=ITEM_ID_PATTERN)
    name: str = Field(min_length=1)
    items: list[str] = Field(min_length=1, description="Item ids (or group ids) in the scale.")
    groups: list[ItemGroup] = Field(default_factory=list)
    method: Literal["sum", "mean"] = "sum"
    reversed: list[str] = Field(
        default_factory=list, description="Items scored as (min + max - value) of their own option range."
    )
    multiplier: float = Field(
        default=1, gt=0, le=1000, description="Applied after sum/mean (e.g. WHO-5 x 4 = percentage); at most 1000."
    )
    decimals: int = Field(
        default=0, ge=0, le=3, description="Scores are rounded half-up to this many decimals before banding."
    )
    missing: MissingRule
    bands: list[Band] = Field(default_factory=list)
    bands_source: Optional[str] = None
    change: Optional[ChangeParams] = None
    loinc: Optional[str] = Field(default=None, description="LOINC code of this score, only where verified.")
    range: Optional[tuple[float, float]] = Field(
        default=None,
        description="The published score range; when given it must equal the range the options produce.",
    )

    @model_validator(mode="after")
    def _bands_need_source(self) -> "Scale":
        if self.bands and not self.bands_source:
            raise ValueError("bands need bands_source: the publication the cut-offs come from")
        if len(set(self.items)) != len(self.items):
            raise ValueError("items lists an item twice")
        return self


class CriticalRule(CriticalRuleTest, _Strict):
    """An item answer that must reach the clinician at once (suicidality, self-harm, mania...)."""

    item: str
    at_least: Optional[int] = Field(default=None, description="Raised when the answer value is >= this.")
    any_of: Optional[list[int]] = Field(default=None, description="Raised when the answer value is one of these.")
    message: str = Field(min_length=1, description="What the clinician is told, e.g. 'Suicidal ideation endorsed'.")
    kind: Literal["suicidality", "self-harm", "harm-to-others", "mania", "other"] = "suicidality"
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_condition(self) -> "CriticalRule":
        if (self.at_least is None) == (self.any_of is None):
            raise ValueError("give exactly one of at_least or any_of")
        return self


class AlertRule(AlertRuleTest, _Strict):
    """A declarative alert on a score (beside the item-based critical rules): e.g. ASRM total >= 6 raises
    "possible mania/hypomania: assess". Raised through the alert lifecycle (open until acknowledged)."""

    id: str = Field(pattern=ID_PATTERN, description="Stable rule id, unique in the instrument, e.g. 'mania-screen'.")
    scale: Optional[str] = Field(default=None, description="The scale whose value is tested; default the primary (total).")
    at_least: Optional[float] = Field(default=None, description="Raised when the scale's value is >= this.")
    at_most: Optional[float] = Field(default=None, description="Raised when the scale's value is <= this.")
    severity: Literal["critical", "warning", "info"] = "warning"
    message: str = Field(min_length=1, description="What the clinician is told, e.g. 'possible mania/hypomania: assess'.")
    source: str = Field(min_length=1, description="The publication the threshold comes from.")

    @model_validator(mode="after")
    def _one_condition(self) -> "AlertRule":
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self


Domain = Literal[
    "depression",
    "anxiety",
    "distress",
    "social-support",
    "interpersonal-functioning",
    "loneliness",
    "grief",
    "well-being",
    "trauma",
    "mania",
    "other",
]


class Instrument(InstrumentHelpers, _Strict):
    """A complete instrument definition, as a plugin or a declarative file gives it."""

    id: str = Field(pattern=ID_PATTERN, description="Short, lowercase, stable: what clinicians type (e.g. 'phq9').")
    name: str = Field(min_length=1)
    short_name: Optional[str] = None
    version: str = Field(default="1", min_length=1, description="Version of this definition; stored with every score.")
    citation: str = Field(min_length=1, description="The original publication.")
    scoring_source: Optional[str] = Field(default=None, description="The scoring guide used, if not the paper.")
    licence: str = Field(
        min_length=1, max_length=40, description="Short licence label, e.g. 'public domain', 'free to reproduce'."
    )
    licence_note: Optional[str] = Field(
        default=None, description="Who holds the rights, what may be shipped, where permission is stated."
    )
    respondent: Literal["self-report", "clinician-rated"]
    domain: Domain
    populations: list[str] = Field(default_factory=list)
    recall_period: Optional[str] = Field(default=None, description="e.g. 'the last 2 weeks'.")
    instructions: Optional[str] = None
    options: Optional[list[ResponseOption]] = Field(
        default=None, description="Answers shared by every item that has none of its own."
    )
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1, description="The first scale is the primary (total) score.")
    critical: list[CriticalRule] = Field(default_factory=list)
    alerts: list[AlertRule] = Field(
        default_factory=list, description="Alerts raised by a score (e.g. a total at a published cut-off)."
    )
    loinc: Optional[str] = Field(default=None, description="LOINC panel code, only where verified.")
    notes: Optional[str] = None
    individualised: Optional[Literal["goals"]] = Field(
        default=None,
        description="The item text is the client's own, set per course: 'goals' asks item N about the course's "
        "goal N (ipt goals add) and only the goals agreed. That text stays in the record: never in an export.",
    )

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list[Item]) -> list[Item]:
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice")
            seen.add(item.id)
        return items

    @model_validator(mode="after")
    def _consistent(self) -> "Instrument":
        problems = _cross_check(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self



def _cross_check(inst: "Instrument") -> list[str]:
    """Checks that need the whole definition; each problem starts with its path in the file."""
    problems: list[str] = []
    items = {item.id: item for item in inst.items}
    for n, item in enumerate(inst.items):
        where = f"items[{n}] (id {item.id!r})"
        opts = item.options if item.options is not None else inst.options
        if not opts:
            problems.append(f"{where}: no options, and the instrument has no shared options")
            continue
        values = [o.value for o in opts]
        if len(set(values)) != len(values):
            problems.append(f"{where}: two options have the same value")
    if problems:
        return problems  # ranges below need every item's options
    scale_ids: set[str] = set()
    for n, scale in enumerate(inst.scales):
        where = f"scales[{n}] (id {scale.id!r})"
        if scale.id in scale_ids:
            problems.append(f"{where}: scale id appears twice")
        scale_ids.add(scale.id)
        group_ids = {g.id for g in scale.groups}
        broken = False
        for g, group in enumerate(scale.groups):
            if group.id not in scale.items:
                problems.append(f"{where}.groups[{g}]: group {group.id!r} is not listed in the scale's items")
            for member in group.items:
                if member not in items:
                    problems.append(f"{where}.groups[{g}]: unknown item {member!r}")
                    broken = True
            if group.answered_when is not None and group.answered_when > len(group.items):
                problems.append(f"{where}.groups[{g}]: answered_when {group.answered_when} is more than its "
                                f"{len(group.items)} items")
        for ref in scale.items:
            if ref not in items and ref not in group_ids:
                problems.append(f"{where}.items: unknown item {ref!r}")
                broken = True
            elif ref in items and items[ref].optional:
                problems.append(f"{where}.items: item {ref!r} is optional (unscored) but is in the scale")
        members = set(scale.items) | {m for g in scale.groups for m in g.items}
        for rev in scale.reversed:
            if rev not in items or rev not in members:
                problems.append(f"{where}.reversed: item {rev!r} is not in the scale")
        if scale.missing.max_missing >= len(scale.items):
            problems.append(f"{where}.missing.max_missing: must be below the number of components ({len(scale.items)})")
        if broken:
            continue
        low, high = scale_range(inst, scale)
        if scale.range is not None and (
            not math.isclose(scale.range[0], low) or not math.isclose(scale.range[1], high)
        ):
            problems.append(
                f"{where}.range: declared range {scale.range[0]:g}-{scale.range[1]:g} but its items' options "
                f"give {low:g}-{high:g}; check the option values"
            )
        problems.extend(f"{where}.bands: {p}" for p in _band_problems(scale, low, high))
        change = scale.change
        if change and change.reliable_change is None and (change.reliability is None) != (change.sd is None):
            # Direction and a cut-off alone are worth declaring (change is then shown without a
            # reliable-change judgement); but the RCI needs both numbers, from one named sample.
            problems.append(
                f"{where}.change: without a published reliable_change, the RCI needs both reliability and sd"
            )
    scales = {scale.id: scale for scale in inst.scales}
    rule_ids: set[str] = set()
    for n, alert in enumerate(inst.alerts):
        where = f"alerts[{n}] (id {alert.id!r})"
        if alert.id in rule_ids:
            problems.append(f"{where}: rule id appears twice")
        rule_ids.add(alert.id)
        scale = scales.get(alert.scale or inst.scales[0].id)
        if scale is None:
            problems.append(f"{where}.scale: unknown scale {alert.scale!r}")
            continue
        try:
            low, high = scale_range(inst, scale)
        except (KeyError, ValueError):
            continue  # the scale itself is broken: reported above
        if not alert.raised_by(low) and not alert.raised_by(high):
            problems.append(f"{where}: can never be raised: the scale {scale.id!r} ranges {low:g}-{high:g}")
        elif alert.raised_by(low) and alert.raised_by(high):
            problems.append(f"{where}: would be raised by every score: the scale {scale.id!r} ranges {low:g}-{high:g}")
    for n, rule in enumerate(inst.critical):
        where = f"critical[{n}]"
        if rule.item not in items:
            problems.append(f"{where}.item: unknown item {rule.item!r}")
            continue
        if not any(rule.raised_by(o.value) for o in inst.options_for(items[rule.item])):
            problems.append(f"{where}: the rule on item {rule.item!r} can never be raised by its options")
    return problems


def _band_problems(scale: Scale, low: float, high: float) -> list[str]:
    if not scale.bands:
        return []
    step = 10 ** -scale.decimals
    bands = sorted(scale.bands, key=lambda b: b.min)
    problems = [f"band {b.label!r} has max below min" for b in bands if b.max < b.min]
    first, last = bands[0], bands[-1]
    if not math.isclose(first.min, low) or not math.isclose(last.max, high):
        problems.append(f"bands cover {first.min:g}-{last.max:g} but the score range is {low:g}-{high:g}")
    for prev, nxt in zip(bands, bands[1:]):
        expected = round_half_up(prev.max + step, scale.decimals)
        if nxt.min <= prev.max:
            problems.append(f"bands {prev.label!r} and {nxt.label!r} overlap")
        elif not math.isclose(nxt.min, expected):
            problems.append(
                f"gap between bands {prev.label!r} (to {prev.max:g}) and {nxt.label!r} (from {nxt.min:g}); "
                f"with {scale.decimals} decimals the next band must start at {expected:g}"
            )
    return problems


# -- responses and scores ---------------------------------------------------------------------------

Answer = Optional[int]
"""An item's value as given, or None when it was skipped or declined."""


class ScaleScore(BaseModel):
    """One scale's result. `value` is None when too many answers are missing to score it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    value: Optional[float] = None
    band: Optional[str] = None
    band_severity: Optional[int] = None
    answered: int
    missing: int
    prorated: bool = False
    note: Optional[str] = None
    # Decimals the scale is reported to (display only: `value` is exact); absent means whole numbers.
    decimals: Optional[int] = None

    def display(self) -> str:
        """The value as the clinician reads it: rounded half-up to the scale's decimals."""
        return format_score(self.value, self.decimals or 0)


class Flag(BaseModel):
    """A critical answer the clinician must see at once."""

    model_config = ConfigDict(extra="forbid")

    item: str
    value: int
    answer: str
    kind: str
    message: str


class Score(BaseModel):
    """The scored result of one administration."""

    model_config = ConfigDict(extra="forbid")

    instrument: str
    instrument_version: str
    scorer: str = Field(description="Which scorer produced this score and its version, e.g. 'generic/1'.")
    total: ScaleScore
    subscales: list[ScaleScore] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)

    @property
    def scales(self) -> list[ScaleScore]:
        return [self.total, *self.subscales]


class Protocol(_Strict):
    """A measurement protocol: which instruments are due at which sessions of a course."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str = ""
    rules: list["ProtocolRule"] = Field(min_length=1)


class ProtocolRule(_Strict):
    """Instruments due at certain sessions, optionally only for certain IPT problem areas."""

    instruments: list[str] = Field(min_length=1)
    when: list[Literal["every", "first", "mid", "last"] | int] = Field(
        min_length=1, description="'every' session, the 'first', 'mid' or 'last' session, or session numbers."
    )
    problem_areas: list[Literal[PROBLEM_AREAS]] = Field(
        default_factory=list, description="Only for these problem areas; empty means every course."
    )
    why: str = ""


Protocol.model_rebuild()


def is_valid_id(value: str) -> bool:
    return re.fullmatch(ID_PATTERN, value) is not None
