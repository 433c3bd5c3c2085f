"""ICG: Inventory of Complicated Grief (Prigerson et al. 1995), from its declarative file icg.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("icg.toml"))
