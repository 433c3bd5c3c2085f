"""MSPSS: Multidimensional Scale of Perceived Social Support, from its declarative file mspss.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("mspss.toml"))
