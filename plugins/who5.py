"""WHO-5: World Health Organization Five Well-Being Index, from its declarative file who5.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("who5.toml"))
