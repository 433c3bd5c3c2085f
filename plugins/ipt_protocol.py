"""The default IPT measurement protocol, ``ipt-default``, from its data file ipt_protocol.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_protocols(register):
    register(Path(__file__).with_name("ipt_protocol.toml"))
