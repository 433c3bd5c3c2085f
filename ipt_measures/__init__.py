"""ipt-measures: assessment and measurement for Interpersonal Psychotherapy.

Plugins import only from here: ``from ipt_measures import hookimpl``. Nothing heavy is imported at
module level; the library functions below load what they need when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .models import Instrument, Score

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "hookimpl",
    "get_instrument",
    "get_instruments",
    "load_instrument_file",
    "score",
    "score_answers",
]


def get_instruments() -> dict[str, "Instrument"]:
    """Every registered instrument by id (built-ins, installed plugins and the user's instruments folder)."""
    from .plugins import get_registry

    return dict(get_registry().instruments)


def get_instrument(instrument_id: str) -> "Instrument":
    """One instrument by id; raises UnknownInstrument with the ids that do exist."""
    from .plugins import get_registry

    return get_registry().instrument(instrument_id)


def load_instrument_file(path: Any) -> "Instrument":
    """Load and validate a declarative instrument file (TOML or JSON)."""
    from .declarative import load_instrument_file as _load

    return _load(path)


def score(instrument_id: str, answers: Any) -> "Score":
    """Score answers (a mapping item id -> value, or a list in item order; None = missing).

    Uses a plugin's scoring override where one answers for the instrument, the generic scorer otherwise.
    """
    return _registry().score(instrument_id, answers)


def _registry():
    """``plugins.get_registry``, imported on first use (then bound here: scoring a batch pays no import per call)."""
    global _registry
    from .plugins import get_registry

    _registry = get_registry
    return get_registry()


score_answers = score
