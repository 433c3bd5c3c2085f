"""GAD-7: Generalized Anxiety Disorder scale, from its declarative file gad7.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("gad7.toml"))
