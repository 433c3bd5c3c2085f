"""FHIR R4: a Bundle (type ``collection``) of one QuestionnaireResponse and one Observation per administration.

Conventions (see the README, Exports and imports, for the reasoning and sources):

- ``collection``, not ``transaction``: the file is a set of records for review or archiving, not
  instructions to a server; a transaction needs a ``request`` per entry and a server to run it.
- ``fullUrl`` is ``urn:uuid:`` + a UUID-5 of the (exported) client id and administration id, so the same
  record exports to the same file; references between entries use these urns.
- QuestionnaireResponse: ``status`` completed, ``questionnaire`` our canonical
  ``https://ipt-measures.org/fhir/Questionnaire/<instrument>|<version>``, ``subject`` a reference to
  ``Patient/<client id>`` with the id also as an identifier, ``authored`` the completion time,
  ``item[].linkId`` our item id (one rule for every instrument; the import also accepts ``/<LOINC>``,
  the US Core form). Each answer is a ``valueCoding``: the LOINC answer code where the option has a
  verified one (LL358-3 for PHQ-9/GAD-7), otherwise our own per-instrument code system, always with the
  scored value in the ``itemWeight`` extension (HL7 extensions pack; formerly ``ordinalValue``). A skipped
  or declined item keeps its place with a ``data-absent-reason`` extension instead of an answer.
- Observation: ``status`` final, category ``survey``, ``code`` the LOINC total-score code where the
  instrument definition carries a verified one (``scale.loinc``) plus always our own code, ``valueQuantity``
  in ``{score}``, ``derivedFrom`` the QuestionnaireResponse, the band as ``interpretation.text``,
  subscales and critical items as components (a critical item also as a note).
- The session, course and respondent travel in one extension of our own (``ipt-session``) on the
  QuestionnaireResponse, so ``ipt import`` can put the record back where it was.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import IO, Any, Iterable, Optional

BASE = "https://ipt-measures.org/fhir"
QUESTIONNAIRE = BASE + "/Questionnaire/"
SESSION_EXTENSION = BASE + "/StructureDefinition/ipt-session"
SCORE_SYSTEM = BASE + "/CodeSystem/score"
FLAG_SYSTEM = BASE + "/CodeSystem/flag"
CLIENT_SYSTEM = BASE + "/client-id"
ADMINISTRATION_SYSTEM = BASE + "/administration"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"  # the R4-era name, read on import
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
# A skipped item: the respondent gave no answer; a declined one: asked and refused to answer.
ABSENT_REASON = {"skipped": "unknown", "declined": "asked-declined"}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, BASE)


def answer_system(instrument_id: str) -> str:
    return f"{BASE}/CodeSystem/{instrument_id}-answer"


def questionnaire_url(instrument_id: str, version: str) -> str:
    return f"{QUESTIONNAIRE}{instrument_id}|{version}"


def full_url(client_id: str, administration_id: Any, kind: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(_NAMESPACE, f"{client_id}|{administration_id}|{kind}"))


def subject(client_id: str) -> dict:
    ref: dict[str, Any] = {"identifier": {"system": CLIENT_SYSTEM, "value": client_id}}
    if FHIR_ID.match(client_id):  # a FHIR id allows letters, digits, '-' and '.' only
        ref = {"reference": f"Patient/{client_id}", **ref}
    return ref


def _instrument(instrument_id: str):
    from ..plugins import get_registry

    return get_registry().instruments.get(instrument_id)


def _session_extension(record: dict) -> dict:
    course, session, admin = record["course"], record["session"], record["administration"]
    parts: list[dict] = [{"url": "courseStart", "valueDate": course["start_date"]},
                         {"url": "plannedSessions", "valueInteger": course["planned_sessions"]}]
    parts += [{"url": "problemArea", "valueCode": area} for area in course["problem_areas"]]
    if course.get("protocol"):
        parts.append({"url": "protocol", "valueString": course["protocol"]})
    if course.get("end_date"):
        parts.append({"url": "courseEnd", "valueDate": course["end_date"]})
    parts += [{"url": "sessionNumber", "valueInteger": session["number"]},
              {"url": "sessionDate", "valueDate": session["date"]},
              {"url": "phase", "valueCode": session["phase"]},
              {"url": "respondent", "valueCode": admin["respondent"]}]
    return {"url": SESSION_EXTENSION, "extension": parts}


def _answer_item(instrument: Any, instrument_id: str, response: dict) -> dict:
    item_def = None
    if instrument is not None:
        try:
            item_def = instrument.item(response["item_id"])
        except KeyError:
            item_def = None
    entry: dict[str, Any] = {"linkId": response["item_id"]}
    if item_def is not None:
        entry["text"] = item_def.display()
    if response["status"] != "answered":
        entry["extension"] = [{"url": DATA_ABSENT, "valueCode": ABSENT_REASON[response["status"]]}]
        return entry
    value = response["value"]
    option = None
    if item_def is not None:
        option = next((o for o in instrument.options_for(item_def) if o.value == value), None)
    coding: dict[str, Any] = {"extension": [{"url": ITEM_WEIGHT, "valueDecimal": value}]}
    if option is not None and option.loinc:
        coding.update(system=LOINC, code=option.loinc, display=option.label)
    else:
        coding.update(system=answer_system(instrument_id), code=str(value))
        if option is not None:
            coding["display"] = option.label
    entry["answer"] = [{"valueCoding": coding}]
    return entry


def _quantity(value: Any) -> dict:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def _absent(note: Optional[str]) -> dict:
    concept: dict[str, Any] = {"coding": [{"system": DATA_ABSENT_SYSTEM, "code": "error"}]}
    if note:
        concept["text"] = note
    return concept


def _scale_code(instrument: Any, instrument_id: str, scale: dict, title: str) -> dict:
    coding = []
    scale_def = None
    if instrument is not None:
        scale_def = next((s for s in instrument.scales if s.id == scale["id"]), None)
    if scale_def is not None and scale_def.loinc:  # only codes the definition carries as verified
        coding.append({"system": LOINC, "code": scale_def.loinc})
    coding.append({"system": SCORE_SYSTEM, "code": f"{instrument_id}.{scale['id']}"})
    return {"coding": coding, "text": f"{title}: {scale['name']}"}


def resources(record: dict) -> tuple[tuple[str, dict], Optional[tuple[str, dict]]]:
    """The (fullUrl, QuestionnaireResponse) and (fullUrl, Observation) of one export record."""
    admin = record["administration"]
    client_id = record["client"]["id"]
    instrument_id = admin["instrument_id"]
    instrument = _instrument(instrument_id)
    when = admin["finished_at"] or record["session"]["date"]
    qr_url = full_url(client_id, admin["id"], "QuestionnaireResponse")
    qr: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": qr_url.rsplit(":", 1)[1],
        "extension": [_session_extension(record)],
        "identifier": {"system": ADMINISTRATION_SYSTEM, "value": str(admin["id"])},
        "questionnaire": questionnaire_url(instrument_id, admin["instrument_version"]),
        "status": "completed",
        "subject": subject(client_id),
        "authored": when,
        "item": [_answer_item(instrument, instrument_id, r) for r in record["responses"]],
    }
    if not qr["item"]:
        del qr["item"]
    score = record.get("score")
    if not score:
        return (qr_url, qr), None
    title = (instrument.short_name or instrument.name) if instrument is not None else instrument_id
    total = score["total"]
    obs_url = full_url(client_id, admin["id"], "Observation")
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_url.rsplit(":", 1)[1],
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}],
        "code": _scale_code(instrument, instrument_id, total, title),
        "subject": subject(client_id),
        "effectiveDateTime": when,
    }
    if total.get("value") is not None:
        obs["valueQuantity"] = _quantity(total["value"])
    else:
        obs["dataAbsentReason"] = _absent(total.get("note"))
    if total.get("band"):
        obs["interpretation"] = [{"text": total["band"]}]
    components = []
    for sub in score.get("subscales", []):
        component: dict[str, Any] = {"code": _scale_code(instrument, instrument_id, sub, title)}
        if sub.get("value") is not None:
            component["valueQuantity"] = _quantity(sub["value"])
        else:
            component["dataAbsentReason"] = _absent(sub.get("note"))
        if sub.get("band"):
            component["interpretation"] = [{"text": sub["band"]}]
        components.append(component)
    notes = []
    for flag in score.get("flags", []):
        components.append({
            "code": {"coding": [{"system": FLAG_SYSTEM, "code": "critical-item"}],
                     "text": f"Critical item {flag['item']} ({flag['kind']})"},
            "valueString": f"{flag['message']} (item {flag['item']}: {flag['answer']})",
        })
        notes.append({"text": f"CRITICAL ITEM: {flag['message']} (item {flag['item']}: {flag['answer']})"})
    if components:
        obs["component"] = components
    if notes:
        obs["note"] = notes
    obs["derivedFrom"] = [{"reference": qr_url}]
    return (qr_url, qr), (obs_url, obs)


def write(rows: Iterable[dict], out: IO[str], **options: Any) -> None:
    head = '{"resourceType":"Bundle","type":"collection"'
    first = True
    for record in rows:
        qr, obs = resources(record)
        for url, resource in (qr, obs) if obs else (qr,):
            out.write(head + ',"entry":[\n' if first else ",\n")
            out.write(json.dumps({"fullUrl": url, "resource": resource}, ensure_ascii=False, separators=(",", ":")))
            first = False
    out.write(head + "}\n" if first else "\n]}\n")  # FHIR JSON has no empty arrays: no records, no entry
