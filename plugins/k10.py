"""K10: Kessler Psychological Distress Scale, from its declarative file k10.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("k10.toml"))
