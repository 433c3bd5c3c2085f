"""UCLA 3-item Loneliness Scale (Hughes et al. 2004), from its declarative file ucla3.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("ucla3.toml"))
