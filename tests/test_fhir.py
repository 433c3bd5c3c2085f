"""The FHIR R4 export: validated with fhir.resources' R4B models, and its codes, statuses and links checked.

fhir.resources validates structure (required fields, types, nesting) but not coded values, so the
statuses, Bundle type, categories and codes are asserted here. LOINC codes expected below are the ones
the reference notes list as verified: PHQ-9 total 44261-6 (US Core PHQ-9 example), the answer list
LL358-3 (LA6568-5 "Not at all" 0, LA6569-3 "Several days" 1, LA6570-1 "More than half the days" 2,
LA6571-9 "Nearly every day" 3), the PHQ-9 difficulty answers LA6572-7/LA6573-5/LA6575-0/LA6574-3,
and GAD-7 total 70274-6.
"""

from __future__ import annotations

import io
import json

import pytest

import ipt_measures
from ipt_measures.exporters import export
from ipt_measures.store import open_store

from test_export import COURSE, build_caseload, record

Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle

LOINC = "http://loinc.org"
VERIFIED_LOINC = {"44261-6", "70274-6", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9",
                  "LA6572-7", "LA6573-5", "LA6575-0", "LA6574-3"}


@pytest.fixture
def store(tmp_path, zzcheck):
    with open_store(tmp_path / "ipt.db") as s:
        yield s


def fhir_export(store, **kwargs) -> dict:
    out = io.StringIO()
    export(store, "fhir", out, **kwargs)
    return json.loads(out.getvalue())


def codings(node):
    """Every Coding anywhere in a resource."""
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from codings(value)


def by_type(bundle: dict, kind: str) -> list[dict]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_synthetic_course_validates_as_an_r4_bundle(store):
    build_caseload(store, 2)
    data = fhir_export(store)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    assert len(bundle.entry) == 2 * 3 * 2 * 2  # clients x sessions x instruments x (response + observation)
    urls = [e["fullUrl"] for e in data["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)


def test_questionnaire_responses(store):
    build_caseload(store, 1)
    data = fhir_export(store)
    responses = by_type(data, "QuestionnaireResponse")
    assert len(responses) == 6
    for entry in responses:
        qr = entry["resource"]
        assert qr["status"] == "completed"
        assert qr["subject"]["reference"] == "Patient/ZZCLIENT-0000"
        assert qr["questionnaire"] in ("https://ipt-measures.org/fhir/Questionnaire/phq9|1",
                                       "https://ipt-measures.org/fhir/Questionnaire/zzcheck|1")
    first = responses[0]["resource"]
    assert first["authored"] == "2026-01-05T10:10:00+00:00"
    item1 = first["item"][0]
    assert item1["linkId"] == "1" and item1["text"] == "Little interest or pleasure in doing things"
    coding = item1["answer"][0]["valueCoding"]
    assert (coding["system"], coding["code"], coding["display"]) == (LOINC, "LA6571-9", "Nearly every day")
    assert coding["extension"] == [{"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": 3}]
    difficulty = first["item"][9]["answer"][0]["valueCoding"]
    assert (difficulty["code"], difficulty["display"]) == ("LA6575-0", "Very difficult")  # item 10 answered 2
    session2 = responses[2]["resource"]  # PHQ-9 at session 2: item 3 was skipped
    skipped = next(i for i in session2["item"] if i["linkId"] == "3")
    assert "answer" not in skipped
    assert skipped["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    ext = {e["url"]: e for e in first["extension"]}["https://ipt-measures.org/fhir/StructureDefinition/ipt-session"]
    parts = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}
    assert (parts["sessionNumber"], parts["sessionDate"], parts["phase"]) == (1, "2026-01-05", "initial")


def test_total_score_observations(store):
    build_caseload(store, 1)
    data = fhir_export(store)
    qr_urls = {e["fullUrl"] for e in by_type(data, "QuestionnaireResponse")}
    observations = [e["resource"] for e in by_type(data, "Observation")]
    assert len(observations) == 6
    for obs in observations:
        assert obs["status"] == "final"
        assert obs["category"][0]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/observation-category"
        assert obs["category"][0]["coding"][0]["code"] == "survey"
        assert obs["derivedFrom"][0]["reference"] in qr_urls
        assert obs["subject"]["reference"] == "Patient/ZZCLIENT-0000"
    phq = [o for o in observations if o["code"]["coding"][0]["code"] == "44261-6"]
    assert [o["valueQuantity"]["value"] for o in phq] == [25, 8, 1]  # hand-worked, see test_export.py
    assert phq[0]["valueQuantity"]["unit"] == "{score}" and phq[0]["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert [o["interpretation"][0]["text"] for o in phq] == ["severe", "mild", "minimal"]
    critical = [c for c in phq[0]["component"] if c["code"]["coding"][0]["code"] == "critical-item"]
    assert "item 9" in critical[0]["valueString"] and "CRITICAL" in phq[0]["note"][0]["text"]
    assert "component" not in phq[1]  # no subscale, no critical item at session 2


def test_no_invented_loinc_code(store):
    """Only codes the definitions carry as verified appear; an instrument without one gets our own system."""
    build_caseload(store, 1)
    data = fhir_export(store)
    loinc = {c["code"] for c in codings(data) if c["system"] == LOINC}
    assert loinc <= VERIFIED_LOINC
    zz = [e["resource"] for e in data["entry"]
          if "zzcheck" in json.dumps(e["resource"])]
    assert len(zz) == 6
    assert not [c for c in codings(zz) if c["system"] == LOINC]
    obs = next(r for r in zz if r["resourceType"] == "Observation")
    assert obs["code"] == {"coding": [{"system": "https://ipt-measures.org/fhir/CodeSystem/score",
                                       "code": "zzcheck.total"}], "text": "ZZ-check: Total"}
    sub = obs["component"][0]
    assert sub["code"]["coding"][0]["code"] == "zzcheck.a" and sub["valueQuantity"]["value"] == 5
    answer = zz[0]["item"][0]["answer"][0]["valueCoding"]
    assert answer["system"] == "https://ipt-measures.org/fhir/CodeSystem/zzcheck-answer" and answer["code"] == "3"


def test_gad7_total_code_when_registered(store):
    if "gad7" not in ipt_measures.get_instruments():
        pytest.skip("the GAD-7 plugin is not installed")
    store.bulk_import([record(0, COURSE[0], "gad7", [1, 1, 1, 1, 1, 1, 1])])  # 7 x 1 = 7
    data = fhir_export(store)
    Bundle.model_validate(data)
    obs = by_type(data, "Observation")[0]["resource"]
    assert obs["code"]["coding"][0] == {"system": LOINC, "code": "70274-6"}
    assert obs["valueQuantity"]["value"] == 7


def test_unscorable_total_has_a_data_absent_reason(store):
    # PHQ-9 with three items missing is not scored (Kroenke et al. 2010: at most two may be prorated)
    store.bulk_import([record(0, COURSE[0], "phq9", [1, 1, 1, 1, 1, 1, None, None, None])])
    data = fhir_export(store)
    Bundle.model_validate(data)
    obs = by_type(data, "Observation")[0]["resource"]
    assert "valueQuantity" not in obs
    assert obs["dataAbsentReason"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def test_output_is_reproducible(store):
    build_caseload(store, 2)
    first, second = io.StringIO(), io.StringIO()
    export(store, "fhir", first)
    export(store, "fhir", second)
    assert first.getvalue() == second.getvalue()


def test_an_empty_export_is_a_valid_bundle(store):
    data = fhir_export(store)
    assert data == {"resourceType": "Bundle", "type": "collection"}
    Bundle.model_validate(data)


def test_validation_really_checks_structure(store):
    """The validator used above rejects a response without its required status (so the tests can fail)."""
    from pydantic import ValidationError

    build_caseload(store, 1)
    data = fhir_export(store)
    del data["entry"][0]["resource"]["status"]
    with pytest.raises(ValidationError):
        Bundle.model_validate(data)
