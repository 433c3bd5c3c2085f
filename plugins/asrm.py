"""ASRM: Altman Self-Rating Mania Scale (Altman et al. 1997), from its declarative file asrm.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("asrm.toml"))
