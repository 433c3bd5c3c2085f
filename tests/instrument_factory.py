"""Build small synthetic instrument definitions for tests of the model and the generic scorer."""

from __future__ import annotations

import copy
from typing import Any

OPTIONS_0_3 = [{"value": v, "label": f"option {v}"} for v in range(4)]


def definition(**overrides: Any) -> dict[str, Any]:
    """A valid four-item instrument (sum 0-12, bands 0-4/5-8/9-12, item 4 critical) to mutate in tests."""
    base: dict[str, Any] = {
        "id": "test-scale",
        "name": "Test scale",
        "citation": "Synthetic test definition.",
        "licence": "CC0",
        "respondent": "self-report",
        "domain": "other",
        "options": OPTIONS_0_3,
        "items": [{"id": str(i), "text": f"Question {i}"} for i in range(1, 5)],
        "scales": [
            {
                "id": "total",
                "name": "Total",
                "items": ["1", "2", "3", "4"],
                "missing": {"max_missing": 1, "prorate": True, "source": "test"},
                "bands_source": "test",
                "bands": [
                    {"min": 0, "max": 4, "label": "low"},
                    {"min": 5, "max": 8, "label": "mid", "severity": 1},
                    {"min": 9, "max": 12, "label": "high", "severity": 2},
                ],
            }
        ],
        "critical": [{"item": "4", "at_least": 2, "message": "item 4 high", "source": "test"}],
    }
    base = copy.deepcopy(base)
    base.update(overrides)
    return base


def instrument(**overrides: Any):
    from ipt_measures.models import Instrument

    return Instrument.model_validate(definition(**overrides))
