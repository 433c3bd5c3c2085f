"""The README against the code: its generated instruments table, and its set-up job run on both engines."""

from ipt_measures.describe import readme_table
from ipt_measures.plugins import build_registry

import re
import shlex

from conftest import ROOT, on_the_engine, readme_section, run_ipt

START, END = "<!-- instruments-table:start -->", "<!-- instruments-table:end -->"


def test_readme_instruments_table_is_current(isolated_data):
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "README lacks the instruments table markers"
    current = readme.split(START)[1].split(END)[0].strip()
    builtin = build_registry()
    expected = readme_table([i for i in builtin.instruments.values() if builtin.instrument_plugin[i.id] != "ipt_measures.default_plugins"])
    assert current == expected, "README instruments table is stale: run `ipt instruments list --markdown`"


def setup_commands():
    section = readme_section("Set up (two commands)")
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 2, "the README promises exactly two set-up commands"
    return lines


def test_ci_runs_the_readme_test_command():
    _, test_command = setup_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines(), f".ci/run must run the README's test command: {test_command}"


def test_readme_main_job_runs_on_an_empty_machine(tmp_path, engine, needs_bulk):
    """The `ipt` steps of the first command (after the install), run for real in an empty folder; and the
    same steps with ``IPT_DB=postgresql://...`` (issue 12: the README walk-through passes on a server)."""
    install_and_job = setup_commands()[0]
    steps = [s.strip() for s in install_and_job.split("&&")]
    job = [s for s in steps if s.startswith(".venv/bin/ipt ")]
    assert [s.split()[1] for s in job] == ["demo", "caseload", "report"]
    for step in job:
        args = on_the_engine(shlex.split(step)[1:], engine)
        result = run_ipt(*args, cwd=tmp_path, timeout=300)
        assert result.returncode == 0, f"{step}: {result.stderr}"
    report = (tmp_path / "demo-report.html").read_text()
    # A finished course's report is its IPT termination summary; the demo's courses end relative to today.
    assert re.search(r"<title>(Clinical review|IPT termination summary): client demo-0001</title>", report)
    assert "<svg" in report
