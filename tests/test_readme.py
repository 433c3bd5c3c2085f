"""The README's generated parts match the code: the instruments table."""

from ipt_measures.describe import readme_table
from ipt_measures.plugins import build_registry

from conftest import ROOT

START, END = "<!-- instruments-table:start -->", "<!-- instruments-table:end -->"


def test_readme_instruments_table_is_current(isolated_data):
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "README lacks the instruments table markers"
    current = readme.split(START)[1].split(END)[0].strip()
    builtin = build_registry()
    expected = readme_table([i for i in builtin.instruments.values() if builtin.instrument_plugin[i.id] != "ipt_measures.default_plugins"])
    assert current == expected, "README instruments table is stale: run `ipt instruments list --markdown`"
