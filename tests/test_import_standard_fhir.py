"""Standard FHIR QuestionnaireResponses from other systems come in (issue 13 part 2).

Responses shaped as LHC-Forms and the HL7 Personal Health Record IG write them: the questionnaire is the
LOINC panel (PHQ-9 44249-1, GAD-7 69737-5), items are LOINC codes as linkIds, answers LOINC answer codes
with (or without) an ordinalValue, no ipt-session extension. Totals are hand-worked from the published
rules (sum of items; Kroenke 2001, Spitzer 2006).
"""

from __future__ import annotations

import json

import pytest

from ipt_measures import record as services
from ipt_measures.exchange.importing import import_file
from ipt_measures.store import open_store

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
FREQUENCY = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]  # 0-3, LOINC answer list LL358-3


def answer(code, ordinal=None):
    coding = {"system": "http://loinc.org", "code": code}
    if ordinal is not None:
        coding["extension"] = [{"url": ORDINAL, "valueDecimal": ordinal}]
    return {"valueCoding": coding}


def response(panel, items, values, *, authored="2026-01-12T10:05:00-05:00", total=None, codes=None, ordinal=True,
             client="c1", identifier="lhc-1"):
    """An LHC-Forms-style response: linkIds '/<LOINC>', LOINC answers, ordinalValue on each."""
    codes = codes or {}
    entries = [{"linkId": f"/{item}", "text": item,
                "answer": [answer(codes.get(n, FREQUENCY[v]), v if ordinal else None)]}
               for n, (item, v) in enumerate(zip(items, values), start=1)]
    if total is not None:
        entries.append({"linkId": "/44261-6" if panel == "44249-1" else "/70274-6", "answer": [{"valueDecimal": total}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "identifier": {"system": "urn:lhc-forms", "value": identifier},
            "questionnaire": f"http://loinc.org/q/{panel}", "subject": {"reference": f"Patient/{client}"},
            "authored": authored, "item": entries}


@pytest.fixture
def db(tmp_path):
    """c1: a course started 2026-01-05 with sessions 1 (01-05), 2 (01-12) and 3 (01-19)."""
    path = tmp_path / "t.db"
    with open_store(path) as s:
        s.add_client("c1")
        course = services.start_course(s, "c1", ["grief"], 12, "2026-01-05")
        for number, day in ((1, "2026-01-05"), (2, "2026-01-12"), (3, "2026-01-19")):
            s.add_session(course["id"], number, day, "initial")
    return path


def run(db, tmp_path, resource, **options):
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(resource))
    with open_store(db) as s:
        report = import_file(s, path, **options)
        stored = [(r["number"], r["instrument_id"], r["total"]) for r in s._query(
            "SELECT se.number, a.instrument_id, sc.total FROM administrations a JOIN sessions se ON se.id = a.session_id"
            " JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1 ORDER BY a.id")]
    return report, stored


def test_an_lhc_forms_phq9_is_filed_into_the_session_of_its_date_and_its_total_checked(db, tmp_path):
    values = [3, 2, 1, 0, 0, 1, 2, 3, 0]  # 12, moderate
    report, stored = run(db, tmp_path, response("44249-1", PHQ9_ITEMS, values, total=12))
    assert report.ok, [str(r) for r in report.rejected]
    assert stored == [(2, "phq9", 12)]  # authored 2026-01-12: session 2
    report, stored = run(db, tmp_path, response("44249-1", PHQ9_ITEMS, values, total=13, identifier="lhc-2"))
    assert [str(r) for r in report.rejected] == [
        "QuestionnaireResponse: stated total 13 but the answers score 12 with phq9 version 1; not stored"]


@pytest.mark.parametrize("code", ["LA6570-1", "LA18938-3"], ids=["hl7-phr-guide", "lhc-forms"])
def test_gad7_item_2_answered_with_either_loinc_code_and_an_ordinal_value_is_accepted(db, tmp_path, code):
    values = [1, 2, 0, 1, 0, 1, 0]  # 5, mild
    report, stored = run(db, tmp_path, response("69737-5", GAD7_ITEMS, values, codes={2: code}, total=5))
    assert report.ok, [str(r) for r in report.rejected]
    assert stored == [(2, "gad7", 5)]


def test_an_unknown_answer_code_without_an_ordinal_value_is_refused_not_guessed(db, tmp_path):
    resource = response("69737-5", GAD7_ITEMS, [1, 2, 0, 1, 0, 1, 0], codes={2: "LA18938-3"}, ordinal=False)
    report, _ = run(db, tmp_path, resource)
    assert [str(r) for r in report.rejected] == [
        "QuestionnaireResponse item '/68509-9': item 2: answer http://loinc.org|LA18938-3 is not one of this item's "
        "coded answers and carries no ordinalValue or itemWeight"]


def test_a_response_on_a_day_without_a_session_needs_session(db, tmp_path):
    resource = response("44249-1", PHQ9_ITEMS, [0] * 9, authored="2026-01-14")
    report, _ = run(db, tmp_path, resource)
    assert [str(r) for r in report.rejected] == [
        "QuestionnaireResponse: c1 has no session on 2026-01-14 (sessions: 1 on 2026-01-05, 2 on 2026-01-12, "
        "3 on 2026-01-19): give --session N"]
    report, stored = run(db, tmp_path, resource, session=3)
    assert report.ok and stored == [(3, "phq9", 0)]


def test_two_sessions_on_the_response_date_are_ambiguous(db, tmp_path):
    with open_store(db) as s:
        s.add_session(s.courses("c1")[0]["id"], 4, "2026-01-19", "middle")
    resource = response("44249-1", PHQ9_ITEMS, [0] * 9, authored="2026-01-19")
    report, _ = run(db, tmp_path, resource)
    assert [str(r) for r in report.rejected] == [
        "QuestionnaireResponse: c1 has sessions 3 and 4 on 2026-01-19: ambiguous, give --session N "
        "(and --course START_DATE)"]
    report, stored = run(db, tmp_path, resource, session=4, course="2026-01-05")
    assert report.ok and stored == [(4, "phq9", 0)]


def test_a_response_for_a_client_without_a_course_is_refused_in_one_line(db, tmp_path):
    report, _ = run(db, tmp_path, response("44249-1", PHQ9_ITEMS, [0] * 9, client="c9"))
    assert [str(r) for r in report.rejected] == [
        "QuestionnaireResponse: client 'c9' is not in the record: a response without course and session is filed "
        "into a stored course (add the client and the course first)"]


def test_our_questionnaire_canonical_and_item_ids_are_accepted_without_the_session_extension(db, tmp_path):
    resource = response("44249-1", [str(n) for n in range(1, 10)], [1] * 9)
    resource["questionnaire"] = "https://ipt-measures.org/fhir/Questionnaire/phq9|1"
    report, stored = run(db, tmp_path, resource)
    assert report.ok and stored == [(2, "phq9", 9)]


def test_importing_the_same_response_again_is_skipped(db, tmp_path):
    resource = response("44249-1", PHQ9_ITEMS, [1] * 9)
    run(db, tmp_path, resource)
    report, stored = run(db, tmp_path, resource)
    assert (report.stored, report.skipped) == (0, 1) and len(stored) == 1
