"""QIDS-SR16: Quick Inventory of Depressive Symptomatology, self-report (Rush et al. 2003), from qids_sr16.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("qids_sr16.toml"))
