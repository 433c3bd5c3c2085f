"""HRSD-17: Hamilton Rating Scale for Depression, 17 items (Hamilton 1960), from its declarative file hrsd17.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("hrsd17.toml"))
