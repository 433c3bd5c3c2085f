"""The README's licensed-instrument section works as written: its fictional instrument validates, installs and scores.

The TOML block is taken from the page itself, so the page cannot drift from what `ipt` accepts. Expected
values are the ones worked by hand on the page (item 6 reversed as 0 + 4 - answer; withdrawal is the
mean of items 4-6 to two decimals; one missing answer prorates the total as sum x 6 / 5).
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import readme_section

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTION = "Adding a licensed instrument locally"


def code_block(language: str, first_line: str) -> str:
    """The fenced code block of ``language`` whose first line is ``first_line``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", readme_section(SECTION), flags=re.S)
    found = [b for b in blocks if b.splitlines()[0].strip() == first_line]
    assert len(found) == 1, f"expected one ```{language} block starting {first_line!r} in the README section {SECTION!r}"
    return found[0]


@pytest.fixture
def rsi_file(tmp_path):
    path = tmp_path / "rsi-fictional.toml"
    path.write_text(code_block("toml", "# rsi-fictional.toml: a MADE-UP instrument for this walk-through. "
                                       "Not a real scale; not for clinical use."), encoding="utf-8")
    return path


@pytest.fixture
def installed(invoke, isolated_data, rsi_file):
    """Validated with `ipt instruments validate`, then copied into the isolated instruments folder."""
    result = invoke("instruments", "validate", rsi_file)
    assert result.exit_code == 0, result.output
    assert "rsi-fictional.toml: valid (rsi-fictional, 6 items, 3 scale(s))" in result.output
    folder = isolated_data / "instruments"
    assert invoke("instruments", "dir").output.strip() == str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / rsi_file.name).write_text(rsi_file.read_text(encoding="utf-8"), encoding="utf-8")
    return folder / rsi_file.name


def score_json(invoke, answers):
    result = invoke("score", "rsi-fictional", "--answers", answers, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data, {s["id"]: s for s in [data["total"], *data["subscales"]]}


def test_the_page_names_the_example_fictional():
    text = readme_section(SECTION)
    assert text.startswith("## Adding a licensed instrument locally")
    assert "Relationship Strain Inventory (fictional)" in text
    for licensed in ("BDI-II", "IIP-32", "SAS-SR"):
        assert licensed in text  # named, never reproduced


def test_it_is_listed_after_installing(invoke, installed):
    rows = json.loads(invoke("instruments", "list", "--json").stdout)
    row = next(r for r in rows if r["id"] == "rsi-fictional")
    assert (row["items"], row["range"], row["licence"]) == (6, "0-24", "licensed: local use only")


def test_hand_worked_example(invoke, installed):
    # Item 6 reversed: 4 - 1 = 3. Total 2+3+1+4+2+3 = 15 (moderate); conflict 6; withdrawal 9/3 = 3.00 (high).
    data, scales = score_json(invoke, "2,3,1,4,2,1")
    assert (scales["total"]["value"], scales["total"]["band"]) == (15, "moderate strain")
    assert scales["conflict"]["value"] == 6
    assert (scales["withdrawal"]["value"], scales["withdrawal"]["band"]) == (3.0, "high withdrawal")
    assert data["flags"] == [] and data["alerts"] == []


def test_mean_subscale_keeps_two_decimals_and_the_critical_item_fires(invoke, installed):
    # Item 6: 4 - 2 = 2. Total 1+1+3+1+2+2 = 10; withdrawal (1+2+2)/3 = 1.666.., banded and shown as 1.67 (low),
    # kept exact in the JSON; item 3 = 3 flags.
    data, scales = score_json(invoke, "1,1,3,1,2,2")
    assert (scales["total"]["value"], scales["total"]["band"]) == (10, "moderate strain")
    assert (scales["withdrawal"]["value"], scales["withdrawal"]["band"]) == (5 / 3, "low withdrawal")
    assert "Withdrawal: 1.67, low withdrawal" in invoke("score", "rsi-fictional", "--answers", "1,1,3,1,2,2").output
    assert [(f["item"], f["value"], f["answer"]) for f in data["flags"]] == [("3", 3, "Often")]
    result = invoke("score", "rsi-fictional", "--answers", "1,1,3,1,2,2")
    assert "CRITICAL" in result.stderr and "assess safety at home now" in result.stderr


def test_one_missing_answer_is_prorated(invoke, installed):
    # Item 4 missing: answered 2+3+1+2+3 = 11; 11 x 6 / 5 = 13.2 -> 13. Withdrawal (2+3)/2 = 2.50.
    _, scales = score_json(invoke, "2,3,1,,2,1")
    assert (scales["total"]["value"], scales["total"]["prorated"]) == (13, True)
    assert scales["conflict"]["value"] == 6
    assert scales["withdrawal"]["value"] == 2.5


def test_the_pages_contract_test_passes(tmp_path, rsi_file):
    # Lay out the private package as the page shows it and run the page's own test functions.
    package = tmp_path / "clinic-instruments"
    (package / "clinic_instruments").mkdir(parents=True)
    (package / "tests").mkdir()
    (package / "clinic_instruments" / "rsi-fictional.toml").write_text(rsi_file.read_text(encoding="utf-8"))
    test_file = package / "tests" / "test_rsi.py"
    test_file.write_text(code_block("python", "# tests/test_rsi.py"))
    namespace = {"__file__": str(test_file), "__name__": "test_rsi"}
    exec(compile(test_file.read_text(), str(test_file), "exec"), namespace)
    namespace["test_contract"]()
    namespace["test_hand_worked_example"]()


def test_the_pages_package_declares_its_entry_point():
    project = tomllib.loads(code_block("toml", "# pyproject.toml (private: the package contains licensed wording)"))
    assert project["project"]["entry-points"]["ipt_measures"] == {"clinic-instruments": "clinic_instruments"}
