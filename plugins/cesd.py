"""CES-D: Center for Epidemiologic Studies Depression Scale (Radloff 1977), from its declarative file cesd.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("cesd.toml"))
