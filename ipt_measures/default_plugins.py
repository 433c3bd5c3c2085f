"""Core behaviour shipped as a plugin: the generic scorer and the user's instruments folder.

Kept free of heavy imports: the scorer and the file loader are imported when first used.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .paths import instruments_dir


@hookimpl(trylast=True)
def score_instrument(instrument, answers):
    """The generic declarative scorer answers for every instrument no plugin overrides."""
    from .scoring import score

    return score(instrument, answers)


@hookimpl
def register_instruments(register):
    """Every *.toml and *.json file in the user's instruments folder (``ipt instruments dir``)."""
    folder = instruments_dir()
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if path.suffix in (".toml", ".json") and path.is_file():
            register(path)


@hookimpl
def alerts_after_score(instrument, score, previous):
    """Warn when the new total is a reliable deterioration from the course's baseline (first scored) total.

    The rule is the change engine's (published reliable-change threshold, else the Jacobson-Truax RCI);
    the baseline is chosen as ``change.summarise`` chooses it, so the alert and ``ipt progress`` agree.
    """
    params = instrument.primary.change
    if params is None or not previous or score.total.value is None:
        return None
    from .change import reliable_change_threshold, reliable_direction

    baseline = next((p.total.value for p in previous if p.total.value is not None), None)
    if reliable_direction(baseline, score.total.value, params) != "deteriorated":
        return None
    threshold = reliable_change_threshold(params)
    name = instrument.short_name or instrument.name
    delta = score.total.value - baseline
    return [{
        "kind": "reliable-deterioration",
        "severity": "warning",
        "message": f"{name} {score.total.value:g} is reliably worse than baseline {baseline:g} "
        f"({delta:+g}; reliable change is {threshold.points:.3g} points): review the formulation and risk",
    }]
