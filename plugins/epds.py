"""EPDS: Edinburgh Postnatal Depression Scale (Cox, Holden & Sagovsky 1987), from its declarative file epds.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("epds.toml"))
