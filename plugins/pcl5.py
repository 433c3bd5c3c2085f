"""PCL-5: PTSD Checklist for DSM-5 (Weathers et al. 2013), from its declarative file pcl5.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("pcl5.toml"))
