"""Contract checks every instrument must pass; third-party authors run the same from their own tests.

    from ipt_measures.contract import check_instrument
    def test_my_scale():
        assert check_instrument(load_instrument_file("my-scale.toml")) == []
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from .models import Instrument, scale_range


def check_instrument(instrument: Instrument, score_fn: Any = None, samples: int = 200) -> list[str]:
    """Return every contract breach (empty when the instrument is sound).

    Checks that the minimum and maximum answers reach the declared score range exactly, that random
    complete answer sets score inside the range and land in a band, and that each critical rule fires.
    ``score_fn(instrument, answers)`` defaults to the generic scorer (pass a plugin's override to check it).
    """
    if score_fn is None:
        from .scoring import score as score_fn

    problems: list[str] = []
    scored = [i for i in instrument.items if not i.optional]

    def extreme(pick) -> dict[str, int]:
        answers = {}
        for item in scored:
            values = [o.value for o in instrument.options_for(item)]
            answers[item.id] = pick(values)
        return answers

    bounds = {s.id: scale_range(instrument, s) for s in instrument.scales}
    seen: dict[str, set[float]] = {s.id: set() for s in instrument.scales}
    rng = random.Random(instrument.id)
    answer_sets = [extreme(min), extreme(max)]
    answer_sets += [
        {i.id: rng.choice([o.value for o in instrument.options_for(i)]) for i in scored} for _ in range(samples)
    ]
    for answers in answer_sets:
        result = score_fn(instrument, answers)
        for scale_score in result.scales:
            low, high = bounds[scale_score.id]
            if scale_score.value is None:
                problems.append(f"scale {scale_score.id}: complete answers {answers} were not scored")
                continue
            seen[scale_score.id].add(scale_score.value)
            if not low <= scale_score.value <= high:
                problems.append(f"scale {scale_score.id}: {scale_score.value} outside {low}-{high}")
            scale = next(s for s in instrument.scales if s.id == scale_score.id)
            if scale.bands and scale_score.band is None:
                problems.append(f"scale {scale_score.id}: score {scale_score.value} falls in no band")
    for scale in instrument.scales:
        low, high = bounds[scale.id]
        # Reversed items mean the extremes are not "all min" / "all max"; check reachability by search.
        values = seen[scale.id]
        if low not in values or high not in values:
            if not _reachable(instrument, scale, score_fn, low, high):
                problems.append(f"scale {scale.id}: range {low}-{high} is not reached by any answers tried")
    for rule in instrument.critical:
        item = instrument.item(rule.item)
        triggers = [o.value for o in instrument.options_for(item) if rule.raised_by(o.value)]
        answers = extreme(min)
        answers[item.id] = triggers[0]
        flagged = [f.item for f in score_fn(instrument, answers).flags]
        if rule.item not in flagged:
            problems.append(f"critical rule on item {rule.item}: answer {triggers[0]} did not raise a flag")
    return problems


def _reachable(instrument: Instrument, scale, score_fn, low: float, high: float) -> bool:
    """Reach each end by answering every item at whichever end moves the scale that way."""
    scored = [i for i in instrument.items if not i.optional]
    found = set()
    for pick_low_for_reversed in (True, False):
        for direction in (min, max):
            answers = {}
            for item in scored:
                values = [o.value for o in instrument.options_for(item)]
                rev = item.id in scale.reversed
                use = direction if not rev else (max if direction is min else min)
                answers[item.id] = use(values)
            result = score_fn(instrument, answers)
            value = next(s.value for s in result.scales if s.id == scale.id)
            found.add(value)
    return low in found and high in found


def all_answer_sets(instrument: Instrument, limit: int = 100_000):
    """Every complete answer set, for small instruments (exhaustive tests); stops at ``limit``."""
    scored = [i for i in instrument.items if not i.optional]
    choices = [[o.value for o in instrument.options_for(i)] for i in scored]
    for n, combo in enumerate(itertools.product(*choices)):
        if n >= limit:
            return
        yield dict(zip((i.id for i in scored), combo))
