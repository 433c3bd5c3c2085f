"""GDS-15: Geriatric Depression Scale, short form (Sheikh & Yesavage 1986), from its declarative file gds15.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("gds15.toml"))
