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
