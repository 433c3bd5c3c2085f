"""WSAS: Work and Social Adjustment Scale, from its declarative file wsas.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("wsas.toml"))
