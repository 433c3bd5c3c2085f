"""``assess()``: the one call that scores a set of answers, raises its alerts and computes change from baseline.

Every front end and service goes through it (``ipt score``, completing, amending and entering an
administration, import), so a score never travels without its alerts. The alerts are plain dicts that the
store keeps as facts (``store.add_alert``): ``kind``, ``severity``, ``message``, and ``item_id`` / ``rule``
where they apply. Kinds raised here:

- ``critical-item``: an answer that meets an instrument's critical rule (e.g. PHQ-9 item 9 >= 1);
- ``risk-item-unanswered``: a critical item skipped or declined. The published missing-item rule still
  decides the total; the alert says risk is unknown, not absent, and asks the clinician to ask directly;
- ``instrument-rule``: a declarative alert rule of the instrument file (e.g. ASRM total >= 6);
- whatever the ``alerts_after_score`` hooks raise (the built-in one: ``reliable-deterioration``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, Optional, Sequence

CRITICAL_ITEM = "critical-item"
RISK_ITEM_UNANSWERED = "risk-item-unanswered"
INSTRUMENT_RULE = "instrument-rule"
RELIABLE_DETERIORATION = "reliable-deterioration"
MID_COURSE_REVIEW = "mid-course-review"
# Alerts raised by one answer: raised again when that answer is stored again (going back, an amendment).
ITEM_KINDS = (CRITICAL_ITEM, RISK_ITEM_UNANSWERED)


@dataclass
class Assessment:
    """What ``assess`` found: the score, the alerts it raises, and change from the course baseline."""

    score: Any
    alerts: list[dict] = field(default_factory=list)
    change: Optional[dict] = None  # change.PairChange as a dict; None without a scored baseline


def assess(instrument: Any, answers: Any, previous: Sequence[Any] = (), registry: Any = None) -> Assessment:
    """Score ``answers`` (item id -> value, or a list in item order; None = skipped or declined), raise
    every alert the score raises, and compare with the baseline (the first of ``previous``: earlier
    scores of the same instrument in the same course, oldest first)."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    score = registry.score(instrument.id, answers)
    alerts = critical_alerts(score.flags) if score.flags else []
    if instrument.critical:  # only a critical item can go unanswered to any effect
        given = None
        if type(answers) is dict or isinstance(answers, Mapping):
            # Every critical item is "given" (None when absent), as every item is.
            given = {rule.item: answers.get(rule.item) for rule in instrument.critical}
        elif type(answers) not in (list, tuple) or None in answers:  # a list with no None has no unanswered item
            given = {i.id: v for i, v in zip(instrument.items, answers)}
        if given is not None and None in given.values():
            alerts += unanswered_alerts(instrument, given)
    if getattr(instrument, "alerts", None):
        alerts += rule_alerts(instrument, score)
    alerts += registry.alerts(instrument, score, list(previous))
    change = change_between(instrument, previous[0].total.value, score.total.value) if previous else None
    return Assessment(score, alerts, change)


def change_between(instrument: Any, baseline: Optional[float], current: Optional[float]) -> Optional[dict]:
    """Change from ``baseline`` to ``current`` on the primary scale, by the change engine's rules (as a dict)."""
    if baseline is None or current is None:
        return None
    pair = _pair_json(baseline, current, instrument.primary.change)
    # A copy each time (the caller may add to it); the judging and dumping were done once for the pair.
    threshold = pair["threshold"]
    return {**pair, "threshold": None if threshold is None else dict(threshold)}


@lru_cache(maxsize=4096, typed=True)
def _pair_json(baseline: float, current: float, params: Any) -> dict:
    from .change import compare

    return compare(baseline, current, params).model_dump(mode="json")


def critical_alerts(flags: Sequence[Any]) -> list[dict]:
    """One critical alert per critical flag (``Score.flags``)."""
    return [
        {"kind": CRITICAL_ITEM, "severity": "critical", "item_id": f.item, "rule": f.kind,
         "message": f"{f.message} (item {f.item}: {f.answer})"}
        for f in flags
    ]


def unanswered_alerts(instrument: Any, answers: Mapping[str, Optional[int]]) -> list[dict]:
    """A critical item without an answer (skipped or declined) means risk unknown, not no risk. Only the
    items present in ``answers`` are looked at."""
    out, seen = [], set()
    for rule in instrument.critical:
        if rule.item in seen or rule.item not in answers or answers[rule.item] is not None:
            continue
        seen.add(rule.item)
        name = instrument.short_name or instrument.name
        out.append({"kind": RISK_ITEM_UNANSWERED, "severity": "critical", "item_id": rule.item, "rule": rule.kind,
                    "message": f"risk item not answered: ask directly ({name} item {rule.item}, {rule.kind})"})
    return out


def rule_alerts(instrument: Any, score: Any) -> list[dict]:
    """The instrument file's declarative alert rules that the score meets."""
    values = {s.id: s.value for s in score.scales}
    out = []
    for rule in getattr(instrument, "alerts", ()):
        scale = rule.scale or instrument.primary.id
        if rule.raised_by(values.get(scale)):
            name = instrument.short_name or instrument.name
            out.append({"kind": INSTRUMENT_RULE, "severity": rule.severity, "rule": rule.id,
                        "message": f"{rule.message} ({name} {scale} {values[scale]:g})"})
    return out


def answer_alerts(instrument: Any, item_id: str, value: Optional[int], status: str) -> list[dict]:
    """What one answer raises the moment it is stored, before the administration is complete: a critical
    answer, or a critical item skipped or declined."""
    from .scoring import critical_flags

    if status == "answered":
        return critical_alerts(critical_flags(instrument, {item_id: value}))
    return unanswered_alerts(instrument, {item_id: None})


def is_critical_item(instrument: Any, item_id: str) -> bool:
    """Whether an item carries a critical rule (its skip or decline is confirmed, and raises an alert)."""
    return any(rule.item == item_id for rule in instrument.critical)
