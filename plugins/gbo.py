"""GBO: Goal-Based Outcomes, the client's goals for the problem area rated 0-10, from its declarative file gbo.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("gbo.toml"))
