"""The default IPT measurement protocol, ``ipt-default``, from its data file ipt_protocol.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_protocols(register):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    register(tomllib.loads(Path(__file__).with_name("ipt_protocol.toml").read_text(encoding="utf-8")))
