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
from ipt_measures import record as record_service
from ipt_measures.exchange.exporting import export
from ipt_measures.store import open_store

from test_export import COURSE, build_caseload, record

Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle

LOINC = "http://loinc.org"
VERIFIED_LOINC = {"44261-6", "70274-6", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9",
                  "LA6572-7", "LA6573-5", "LA6575-0", "LA6574-3"}


@pytest.fixture
def store(engine, needs_bulk, zzcheck):  # records built by bulk import
    with open_store(engine) as s:
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


def patient_of(bundle: dict, client_id: str) -> str:
    """The fullUrl of the one Patient whose identifier is ``client_id``."""
    (url,) = [e["fullUrl"] for e in by_type(bundle, "Patient")
              if e["resource"]["identifier"][0]["value"] == client_id]
    return url


def test_synthetic_course_validates_as_an_r4_bundle(store):
    build_caseload(store, 2)
    data = fhir_export(store)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    # a Patient per client + clients x sessions x instruments x (response + observation)
    assert len(bundle.entry) == 2 + 2 * 3 * 2 * 2
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
        assert qr["subject"]["reference"] == patient_of(data, "ZZCLIENT-0000")
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
        assert obs["subject"]["reference"] == patient_of(data, "ZZCLIENT-0000")
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
    del by_type(data, "QuestionnaireResponse")[0]["resource"]["status"]
    with pytest.raises(ValidationError):
        Bundle.model_validate(data)


# -- issue 13 part 1: what the export says, and a Bundle a server takes -------------------------------------


def references(node):
    """Every ``reference`` string anywhere in a resource."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_dates_are_when_the_form_was_answered_not_when_it_was_typed_in(store):
    """A paper form from the session on 2025-01-06 typed in on 2026-11-29 was exported as 2026-11-29."""
    paper = record(0, (1, "2025-01-06", "initial"), "phq9", [1] * 9, start="2025-01-06")
    paper["administration"].update(source="file", started_at="2026-11-29T09:00:00+00:00",
                                   finished_at="2026-11-29T09:01:00+00:00")
    live = record(0, (2, "2025-01-13", "initial"), "phq9", [0] * 9, start="2025-01-06")  # answered in session
    late_live = record(0, (3, "2025-01-20", "initial"), "phq9", [2] * 9, start="2025-01-06")
    late_live["administration"]["finished_at"] = "2025-01-22T08:00:00+00:00"  # finished days later
    store.bulk_import([paper, live, late_live])
    data = fhir_export(store)
    Bundle.model_validate(data)
    responses = [e["resource"] for e in by_type(data, "QuestionnaireResponse")]
    observations = [e["resource"] for e in by_type(data, "Observation")]
    assert [r["authored"] for r in responses] == ["2025-01-06", "2025-01-13T10:09:00+00:00", "2025-01-20"]
    assert [o["effectiveDateTime"] for o in observations] == [r["authored"] for r in responses]
    entered = [next(p["valueDateTime"] for p in r["extension"][0]["extension"] if p["url"] == "enteredAt")
               for r in responses]
    assert entered == ["2026-11-29T09:01:00+00:00", "2025-01-13T10:09:00+00:00", "2025-01-22T08:00:00+00:00"]


def test_every_subject_is_a_patient_in_the_bundle_whatever_its_id(store):
    """632 of 632 resources referenced a Patient the Bundle did not hold; ids with _ or / got no reference."""
    ids = ["ZZ_CLIENT_1", "ZZ/CLIENT/2", "ZZCLIENT-0003"]
    records = []
    for client_id in ids:
        for instrument, answers in (("phq9", COURSE[0][3]), ("zzcheck", COURSE[0][4])):
            rec = record(0, COURSE[0], instrument, answers)
            rec["client_id"] = client_id
            records.append(rec)
    store.bulk_import(records)
    data = fhir_export(store)
    Bundle.model_validate(data)
    patients = by_type(data, "Patient")
    assert sorted(p["resource"]["identifier"][0]["value"] for p in patients) == sorted(ids)
    assert all(set(p["resource"]) == {"resourceType", "identifier"} for p in patients)  # nothing identifying
    urls = {e["fullUrl"] for e in data["entry"]}
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] in ("QuestionnaireResponse", "Observation"):
            assert entry["resource"]["subject"]["reference"] in {p["fullUrl"] for p in patients}
        assert set(references(entry["resource"])) <= urls
    named = fhir_export(store, include_identifiers=True)
    assert {p["resource"]["name"][0]["text"] for p in by_type(named, "Patient")} == {"Test Person A"}


def test_a_transaction_bundle_resolves_every_reference_inside_itself(store):
    build_caseload(store, 2)
    client = "ZZCLIENT-0000"
    record_service.amend_response(store, client, "9", 0, "typed 1 for 0", instrument_id="phq9",
                                       session_number=1, actor="Clinician X")
    for kwargs in ({}, {"with_definitions": True}):
        data = fhir_export(store, bundle_type="transaction", **kwargs)
        Bundle.model_validate(data)
        assert data["type"] == "transaction"
        urls = [e["fullUrl"] for e in data["entry"]]
        assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
        for entry in data["entry"]:
            resource = entry["resource"]
            assert "id" not in resource  # a create: the server assigns the id
            assert entry["request"]["method"] == "POST" and entry["request"]["url"] == resource["resourceType"]
            assert set(references(resource)) <= set(urls), resource["resourceType"]
        patients = by_type(data, "Patient")
        assert len(patients) == 2
        for patient in patients:
            value = patient["resource"]["identifier"][0]["value"]
            assert patient["request"]["ifNoneExist"] == f"identifier=https://ipt-measures.org/fhir/client-id|{value}"
        kinds = {e["resource"]["resourceType"] for e in data["entry"]}
        assert {"Patient", "QuestionnaireResponse", "Observation", "Provenance"} <= kinds
    questionnaire = by_type(data, "Questionnaire")[0]
    assert questionnaire["request"]["ifNoneExist"].startswith("url=https://ipt-measures.org/fhir/Questionnaire/")


def test_an_amended_response_is_amended_and_says_what_changed(store):
    build_caseload(store, 1)
    client = "ZZCLIENT-0000"
    record_service.amend_response(store, client, "9", 0, "typed 1 for 0", instrument_id="phq9",
                                       session_number=1, actor="Clinician X")
    data = fhir_export(store)
    Bundle.model_validate(data)
    responses = by_type(data, "QuestionnaireResponse")
    observations = by_type(data, "Observation")
    assert [e["resource"]["status"] for e in responses] == ["amended"] + ["completed"] * 5
    assert [e["resource"]["status"] for e in observations] == ["amended"] + ["final"] * 5
    assert observations[0]["resource"]["valueQuantity"]["value"] == 24  # 25 with item 9 from 1 to 0
    (provenance,) = by_type(data, "Provenance")
    prov = provenance["resource"]
    assert [t["reference"] for t in prov["target"]] == [responses[0]["fullUrl"], observations[0]["fullUrl"]]
    assert prov["agent"][0]["who"]["display"] == "Clinician X"
    assert prov["reason"] == [{"text": "typed 1 for 0"}]
    assert "item 9 changed from 1 to 0" in prov["entity"][0]["what"]["display"]
    assert prov["entity"][0]["role"] == "revision"
    # amendments of a session (its date) amend every response given in it
    record_service.amend_session(store, client, 8, "wrong day", date="2026-03-03")
    data = fhir_export(store)
    assert [e["resource"]["status"] for e in by_type(data, "QuestionnaireResponse")] == (
        ["amended", "completed", "completed", "completed", "amended", "amended"])


def test_amendments_in_a_deidentified_export_say_what_not_who_or_why(store, tmp_path):
    from ipt_measures.deidentify import Deidentifier

    build_caseload(store, 1)
    record_service.amend_response(store, "ZZCLIENT-0000", "9", 0, "Test Person A asked", instrument_id="phq9",
                                       session_number=1, actor="Clinician X")
    out = io.StringIO()
    export(store, "fhir", out, deidentify=Deidentifier(bytes(range(32)), shift_dates=True))
    text = out.getvalue()
    assert "Clinician X" not in text and "Test Person" not in text and "ZZCLIENT" not in text
    prov = by_type(json.loads(text), "Provenance")[0]["resource"]
    assert "item 9 changed from 1 to 0" in prov["entity"][0]["what"]["display"]
    assert not prov["recorded"].startswith(store._query("SELECT at FROM audit WHERE action = 'amendment'")[0][0][:10])


def test_an_unscorable_total_is_unknown_not_a_system_error(store):
    """data-absent-reason `error` means a system failure; a total the missing-item rule does not allow is unknown."""
    store.bulk_import([record(0, COURSE[0], "phq9", [1, 1, 1, 1, 1, 1, None, None, None])])
    obs = by_type(fhir_export(store), "Observation")[0]["resource"]
    coding = obs["dataAbsentReason"]["coding"][0]
    assert coding["code"] == "unknown" and obs["dataAbsentReason"]["text"]


def test_a_prorated_total_is_marked_as_in_the_csv(store):
    build_caseload(store, 1)
    observations = [e["resource"] for e in by_type(fhir_export(store), "Observation")
                    if e["resource"]["code"]["coding"][0]["code"] == "44261-6"]
    assert [o.get("method", {}).get("coding", [{}])[0].get("code") for o in observations] == [None, "prorated", None]
    assert "8 of 9" in observations[1]["method"]["text"]


def test_item_weights_only_on_scored_items_so_they_sum_to_the_total(store):
    """PHQ-9 item 10 (difficulty) is not scored: its answer has no weight, and complete responses' weights
    add up to their total."""
    build_caseload(store, 1)
    data = fhir_export(store)
    totals = {e["resource"]["derivedFrom"][0]["reference"]: e["resource"] for e in by_type(data, "Observation")}
    checked = 0
    for entry in by_type(data, "QuestionnaireResponse"):
        qr = entry["resource"]
        weights = {i["linkId"]: i["answer"][0]["valueCoding"].get("extension") for i in qr["item"] if "answer" in i}
        if "phq9" in qr["questionnaire"] and "10" in weights:
            assert weights["10"] is None
        total = totals[entry["fullUrl"]]
        if "zzcheck" in qr["questionnaire"] or len(weights) < 9 or total.get("method"):
            continue  # ZZ-check reverses items; prorated totals are scaled
        assert sum(w[0]["valueDecimal"] for w in weights.values() if w) == total["valueQuantity"]["value"]
        checked += 1
    assert checked == 2


def test_gad7_item_8_has_no_weight(store):
    if "gad7" not in ipt_measures.get_instruments():
        pytest.skip("the GAD-7 plugin is not installed")
    store.bulk_import([record(0, COURSE[0], "gad7", [1, 1, 1, 1, 1, 1, 1, 2])])
    qr = by_type(fhir_export(store), "QuestionnaireResponse")[0]["resource"]
    item8 = next(i for i in qr["item"] if i["linkId"] == "8")
    assert "extension" not in item8["answer"][0]["valueCoding"]


# -- definitions that resolve ----------------------------------------------------------------------------


def test_with_definitions_every_canonical_and_code_of_ours_resolves(store):
    build_caseload(store, 1)
    data = fhir_export(store, with_definitions=True)
    Bundle.model_validate(data)
    resources = [e["resource"] for e in data["entry"]]
    questionnaires = {(r["url"], r["version"]): r for r in resources if r["resourceType"] == "Questionnaire"}
    systems = {r["url"]: {c["code"] for c in r["concept"]} for r in resources if r["resourceType"] == "CodeSystem"}
    extensions = {r["url"]: r for r in resources if r["resourceType"] == "StructureDefinition"}
    for qr in (r for r in resources if r["resourceType"] == "QuestionnaireResponse"):
        url, version = qr["questionnaire"].split("|")
        questionnaire = questionnaires[(url, version)]
        options = {i["linkId"]: [o["valueCoding"] for o in i["answerOption"]] for i in questionnaire["item"]}
        for item in qr["item"]:
            for answer in item.get("answer", []):
                assert answer["valueCoding"] in options[item["linkId"]]  # the very coding, weight and all
        session = extensions[qr["extension"][0]["url"]]
        slices = {e["sliceName"] for e in session["differential"]["element"] if "sliceName" in e}
        assert {p["url"] for p in qr["extension"][0]["extension"]} <= slices
    for coding in codings(resources):
        if coding["system"].startswith("https://ipt-measures.org/"):
            assert coding["code"] in systems[coding["system"]], coding


def test_questionnaires_ship_item_text_only_where_the_licence_allows(store):
    from ipt_measures.exchange.fhir_definitions import definitions_bundle

    bundle = definitions_bundle()
    Bundle.model_validate(bundle)
    registry = ipt_measures.get_instruments()
    questionnaires = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]
                      if e["resource"]["resourceType"] == "Questionnaire"}
    assert set(questionnaires) == set(registry)
    verified = set()
    for iid, instrument in registry.items():
        verified |= {c for c in [instrument.loinc] + [i.loinc for i in instrument.items] if c}
        verified |= {o.loinc for i in instrument.items for o in instrument.options_for(i) if o.loinc}
        for item, q_item in zip(instrument.items, questionnaires[iid]["item"]):
            assert q_item["linkId"] == item.id
            assert q_item["text"] == (item.text or item.label or f"Item {item.id}")
            if item.text is None:  # licence does not allow the wording: the neutral label only
                assert q_item["text"] != "" and q_item["text"] == (item.label or f"Item {item.id}")
    loinc = {c["code"] for c in codings([e["resource"] for e in bundle["entry"]]) if c["system"] == LOINC}
    assert loinc <= verified  # no LOINC code the plugins do not carry as verified
    phq = questionnaires["phq9"]
    assert phq["code"] == [{"system": LOINC, "code": "44249-1", "display": "Patient Health Questionnaire-9"}]
    assert "extension" not in phq["item"][9]["answerOption"][0]["valueCoding"]  # item 10 is not scored
    assert phq["item"][0]["answerOption"][3]["valueCoding"]["extension"][0]["valueDecimal"] == 3


def test_cli_instruments_export(invoke, isolated_data, tmp_path):
    one = invoke("instruments", "export", "phq9", "--format", "fhir")
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["resourceType"] == "Questionnaire"
    target = tmp_path / "definitions.json"
    every = invoke("instruments", "export", "--all", "--format", "fhir", "-o", target)
    assert every.exit_code == 0, every.output
    bundle = json.loads(target.read_text())
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("StructureDefinition") == 2 and "CodeSystem" in kinds
    bad = invoke("instruments", "export", "nope")
    assert bad.exit_code != 0 and "nope" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_cli_export_transaction_with_definitions(invoke, engine, needs_bulk, zzcheck):
    with open_store(engine) as s:
        build_caseload(s, 1)
    result = invoke("export", "--all", "--format", "fhir", "--bundle-type", "transaction", "--with-definitions")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["type"] == "transaction" and by_type(data, "Questionnaire")
    assert invoke("export", "--all", "--format", "csv-long", "--bundle-type", "transaction").exit_code != 0


def test_the_streamed_bundle_is_exactly_the_resources_built_for_each_record(store):
    """The writer splices JSON encoded once (answer items, codes, subjects, session parts) into each entry:
    the result must be the very resources ``fhir.resources`` builds, entry for entry."""
    import uuid

    from ipt_measures.exchange import fhir
    from ipt_measures.exchange.exporting import iter_records

    build_caseload(store, 2)
    record_service.amend_response(store, "ZZCLIENT-0001", "2", 0, "typo", instrument_id="phq9", session_number=2)
    for bundle_type in ("collection", "transaction"):
        data = fhir_export(store, bundle_type=bundle_type)
        state = fhir._State()
        expected = []
        for rec in iter_records(store, amendments=True, alerts=True):
            if not any(url == fhir.patient_url(rec["client"]["id"]) for url, _ in expected):
                expected.append((fhir.patient_url(rec["client"]["id"]),
                                 fhir.patient(rec["client"]["id"], rec["client"], False)))
            expected += fhir.resources(rec, state)
        if bundle_type == "transaction":
            for _, resource in expected:
                resource.pop("id", None)
        assert [(e["fullUrl"], e["resource"]) for e in data["entry"]] == expected
    for name in ("ZZCLIENT-0000|17|Observation", "patient|ZZ/odd", "é", ""):
        assert fhir._urn_uuid5(name) == "urn:uuid:" + str(uuid.uuid5(fhir._NAMESPACE, name))


def test_alerts_travel_as_flags_pointing_at_the_response(store):
    """Issue 10 part 1: open and acknowledged alerts are in the FHIR export, as Flags (see fhir.flag for why
    Flag and not DetectedIssue), each pointing at the QuestionnaireResponse that raised it."""
    from ipt_measures.deidentify import Deidentifier
    from ipt_measures.exchange import fhir

    build_caseload(store, 1)
    admin = store._query("SELECT min(id) FROM administrations WHERE instrument_id = 'phq9'")[0][0]
    before = len(store.alerts("ZZCLIENT-0000", include_acknowledged=True))
    critical = store.add_alert("ZZCLIENT-0000", "critical-item", "critical", "Suicidal ideation endorsed",
                               administration_id=admin, item_id="9")
    review = store.add_alert("ZZCLIENT-0000", "mid-course-review", "info", "Mid-course review due")
    store.acknowledge_alert(review, "reviewed with supervisor", note="Test Person A doing better", actor="Dr Z")
    data = fhir_export(store)
    Bundle.model_validate(data)
    flags = {f["resource"]["identifier"][0]["value"]: f["resource"] for f in by_type(data, "Flag")}
    assert len(flags) == before + 2
    open_flag, acked = flags[str(critical)], flags[str(review)]
    (qr,) = [e for e in by_type(data, "QuestionnaireResponse")
             if e["resource"]["identifier"]["value"] == str(admin)]
    detail = {e["url"]: e for e in open_flag["extension"]}
    assert detail[fhir.FLAG_DETAIL]["valueReference"]["reference"] == qr["fullUrl"]
    assert detail[fhir.FLAG_PRIORITY]["valueCodeableConcept"]["coding"][0]["code"] == "PH"
    assert open_flag["status"] == "active" and "end" not in open_flag["period"]
    assert open_flag["code"]["text"] == "Suicidal ideation endorsed"
    assert open_flag["subject"]["reference"] == patient_of(data, "ZZCLIENT-0000")
    assert acked["status"] == "inactive" and acked["period"]["end"]
    assert fhir.FLAG_DETAIL not in {e["url"] for e in acked["extension"]}  # raised by no response
    parts = {p["url"]: p for p in next(e for e in acked["extension"] if e["url"] == fhir.ALERT_EXTENSION)["extension"]}
    assert parts["action"]["valueString"] == "reviewed with supervisor" and "note" in parts
    out = io.StringIO()
    export(store, "fhir", out, deidentify=Deidentifier(bytes(range(32))))
    text = out.getvalue()
    assert "Test Person" not in text and "Dr Z" not in text and "reviewed with supervisor" in text
    assert len(by_type(json.loads(text), "Flag")) == before + 2


@pytest.mark.parametrize("args", [
    ("--format", "fhir", "--bundle-type", "transaction", "--with-definitions"),
    ("--format", "fhir", "--with-identifiers"),
    ("--format", "csv-long", "--items", "--with-identifiers"),
    ("--format", "csv-long", "--items", "--excel"),
])
def test_export_then_import_reproduces_every_score(invoke, new_record, needs_bulk, zzcheck, tmp_path, args):
    """Every export variant read back by ipt import gives the same answers and scores; amended responses,
    alerts and definitions in the Bundle do not get in the way, and a name the CSV guarded against
    formula injection (a leading quote) comes back as it was stored."""
    from test_import import stored_scores

    source = new_record("source")
    with open_store(source) as s:
        build_caseload(s, 2)
        rec = record(2, COURSE[0], "phq9", COURSE[0][3])
        rec["client_id"], rec["display_name"] = "ZZ_CLIENT.odd", "=Test Person 'Q'"
        s.bulk_import([rec])
        record_service.amend_response(s, "ZZCLIENT-0000", "9", 0, "typo", instrument_id="phq9", session_number=1)
        admin = s._query("SELECT min(id) FROM administrations")[0][0]
        s.add_alert("ZZCLIENT-0000", "critical-item", "critical", "Suicidal ideation endorsed", administration_id=admin)
    target = tmp_path / ("out.json" if "fhir" in args else "out.csv")
    assert invoke("export", "--all", "--db", source, "-o", target, *args).exit_code == 0
    copy = new_record("copy")
    result = invoke("import", target, "--db", copy)
    assert result.exit_code == 0, result.output
    assert stored_scores(copy) == stored_scores(source)
    if "--with-identifiers" in args and "csv-long" in args:
        with open_store(copy) as s:
            assert s.get_client("ZZ_CLIENT.odd")["display_name"] == "=Test Person 'Q'"
