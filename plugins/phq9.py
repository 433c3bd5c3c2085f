"""PHQ-9: Patient Health Questionnaire depression scale, from its declarative file phq9.toml."""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("phq9.toml"))
