"""The JSON Schemas in schemas/ are generated from the models; they must not drift."""

import json

from ipt_measures.schema import render, schemas

from conftest import ROOT


def test_schemas_on_disk_match_the_models():
    for filename, schema in schemas().items():
        path = ROOT / "schemas" / filename
        assert path.exists(), f"missing {path}: run `ipt schemas generate`"
        assert path.read_text() == render(schema), f"{filename} is stale: run `ipt schemas generate`"


def test_schema_check_command_detects_drift(invoke, tmp_path):
    invoke("schemas", "generate", "--out", tmp_path)
    assert invoke("schemas", "generate", "--out", tmp_path, "--check").exit_code == 0
    path = tmp_path / "instrument.schema.json"
    data = json.loads(path.read_text())
    data["title"] = "tampered"
    path.write_text(json.dumps(data))
    result = invoke("schemas", "generate", "--out", tmp_path, "--check")
    assert result.exit_code == 1 and "instrument.schema.json" in result.output
