"""The core commands through the real CLI: list, show, score, validate, and their one-line errors."""

import json

import pytest

from instrument_factory import definition


def test_version_loads_no_plugins(invoke, monkeypatch):
    import ipt_measures.plugins as plugins

    monkeypatch.setattr(plugins, "load_plugins", lambda *a, **k: pytest.fail("plugins loaded for --version"))
    result = invoke("--version")
    assert result.output.startswith("ipt 0.")


def test_instruments_list_json(invoke):
    rows = json.loads(invoke("instruments", "list", "--json").stdout)
    phq9 = next(r for r in rows if r["id"] == "phq9")
    assert phq9 == {
        "id": "phq9", "name": "PHQ-9", "domain": "depression", "items": 10, "respondent": "self-report",
        "range": "0-27", "licence": "free to reproduce", "plugin": "phq9",
    }


def test_instruments_list_table(invoke):
    out = invoke("instruments", "list", "--fmt", "github").output
    assert out.splitlines()[0].startswith("| id")
    assert "| phq9" in out


def test_score_phq9_severe_with_suicidality_flag(invoke):
    result = invoke("score", "phq9", "--answers", "3,3,3,3,3,3,3,3,1")
    assert result.exit_code == 0
    assert "Total: 25, severe" in result.output
    assert "CRITICAL ITEM" in result.output and "item 9: Several days" in result.output


def test_score_json(invoke):
    data = json.loads(invoke("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,0,2", "--json").stdout)
    assert data["total"]["value"] == 0 and data["total"]["band"] == "minimal"
    assert data["flags"] == [] and data["alerts"] == []
    assert data["instrument_version"] == "1" and data["scorer"] == "generic/1"


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "phq9", "--answers", "3,3,3,3,3,3,3,3,4"], "Error: phq9 item 9: 4 is not an allowed answer (0 to 3)"),
        (["score", "phq9", "--answers", "1,2,3"], "Error: phq9 takes 9 or 10 answers, got 3"),
        (["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,1,1,1"], "Error: phq9 takes 9 or 10 answers, got 11"),
        (["score", "phq9", "--answers", "a,b"], "Error: answer 1 ('a') is not a whole number"),
        (["score", "nosuch", "--answers", "1"], "Error: unknown instrument 'nosuch' (known: "),
        (["instruments", "show", "nosuch"], "Error: unknown instrument 'nosuch'"),
    ],
)
def test_bad_input_gets_one_line_and_nonzero_exit(runner, args, message):
    from ipt_measures.cli import cli

    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert "Traceback" not in result.output


def test_validate_reports_every_problem_by_path(invoke, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(definition()))
    bad_data = definition()
    bad_data["items"][0]["txet"] = "typo"
    bad_data["scales"][0]["bands"][1]["min"] = 7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_data))
    broken = tmp_path / "broken.toml"
    broken.write_text("id = \n")
    assert "good.json: valid (test-scale, 4 items, 1 scale(s))" in invoke("instruments", "validate", good).output
    result = invoke("instruments", "validate", bad, broken)
    assert result.exit_code == 1
    assert "items[0] (id '1').txet: Extra inputs are not permitted" in result.output
    assert "broken.toml: not valid TOML" in result.output


def test_user_instruments_folder_is_loaded(invoke, isolated_data):
    folder = isolated_data / "instruments"
    folder.mkdir(parents=True)
    (folder / "mine.json").write_text(json.dumps(definition(id="my-scale")))
    assert invoke("instruments", "dir").output.strip() == str(folder)
    ids = {r["id"] for r in json.loads(invoke("instruments", "list", "--json").stdout)}
    assert "my-scale" in ids


def test_show_gives_sources_and_rules_in_words(invoke):
    out = invoke("instruments", "show", "phq9").output
    for expected in ("Citation: Kroenke", "Licence: free to reproduce", "Bands: 0-4 minimal; 5-9 mild",
                     "up to 2 allowed, prorated", "Item 9 answered >= 1", "reliable change 6 points"):
        assert expected in out
    data = json.loads(invoke("instruments", "show", "phq9", "--json").stdout)
    assert data["scale_rules"]["total"][0].startswith("Sum of: item 1")


def test_help_lists_commands_with_help_text(invoke):
    out = invoke("--help").output
    for name in ("instruments", "score", "plugins"):
        assert name in out
