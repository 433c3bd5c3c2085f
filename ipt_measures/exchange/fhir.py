"""FHIR R4, both ways: the export Bundle written, and QuestionnaireResponses (ours or other systems') read.

**Writing** (``ipt export --format fhir``): a Bundle of a Patient per client and, per administration, a
QuestionnaireResponse, its total-score Observation, a Provenance when it was amended and a Flag per alert
it raised.

Conventions (see the README, Exchanging data, for the reasoning and sources):

- Bundle type ``collection`` (a file for review or archiving) or, with ``bundle_type="transaction"``, a
  transaction a server runs (HAPI and Medplum refuse a ``collection`` posted to their base): every entry
  then has a ``request``; the Patient is created only if none has its identifier (``ifNoneExist``), so
  posting a second export for the same client does not duplicate them; definitions likewise by canonical
  URL and version. Entries carry no ``id`` in a transaction (a server assigns one on create).
- ``fullUrl`` is ``urn:uuid:`` + a UUID-5 of the (exported) client id and administration id, so the same
  record exports to the same file; every reference between entries is such a urn and resolves inside the
  Bundle (a server rewrites them on a transaction).
- One **Patient** per client, before that client's first response: a pseudonymous identifier only (the
  clinic's client id, or with ``--deidentify`` the pseudonym under its own system); a name and birth year
  only when the export was asked to include identifiers.
- **QuestionnaireResponse**: ``questionnaire`` our canonical ``.../Questionnaire/<instrument>|<version>``
  (``--with-definitions`` puts the Questionnaire in the Bundle); ``authored`` is when the form was
  answered: the completion time when it was given live in the session (terminal or page, finished on the
  session's date), otherwise the session's date (a paper form entered later, an import). The entry time
  is the ``enteredAt`` part of the session extension. ``item[].linkId`` our item id; each answer a
  ``valueCoding`` (LOINC where verified, otherwise our per-instrument code system) with its weight in the
  ``itemWeight`` extension **only where the item is scored** (PHQ-9 item 10 and GAD-7 item 8, the
  difficulty questions, are recorded but not scored, so the weights sum to the total). A skipped or
  declined item keeps its place with a ``data-absent-reason`` extension.
- **Observation** of the total: ``effectiveDateTime`` the same time as ``authored``; LOINC code only where
  the definition carries a verified one, always our own; a prorated total has ``method`` ``prorated`` (our
  scoring-method code system) and says from how many answers; an unscorable total has
  ``dataAbsentReason`` ``unknown`` (see :data:`NOT_SCORED_REASON`).
- After an amendment the QuestionnaireResponse is ``amended``, the Observation ``amended``, and a
  **Provenance** targets both, saying what changed (each old and new answer), when, by whom and why.
- Each alert raised by the administration (open or acknowledged) is a **Flag** (see :func:`flag`).

**Reading** (``ipt import``): QuestionnaireResponses, a Bundle of them with their total Observations or one
alone. Two kinds of response come in. Our own export carries the IPT course and session in the ``ipt-session``
extension, and the record is put back in its place. A **standard** response from another system (LHC-Forms,
an EHR, the HL7 PHR guide's examples) is identified by the instrument's LOINC panel code or by our
Questionnaire canonical; its items by our item id or LOINC code (``/44250-9``, ``44250-9``, or an LHC-Forms
path ``/44249-1/44250-9``); its answers by LOINC answer code, our answer code, or the
``itemWeight``/``ordinalValue`` extension, whichever is present and agrees. A response item that is one of
the instrument's *scores* (LHC-Forms' ``/44261-6`` PHQ-9 total) is a stated total, checked against ours and
never taken as an answer. Without our extension the record has no course, and the import files it into a
stored course by the response's date (``authored``) or the ``--session``/``--course`` given.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Optional
from urllib.parse import quote

from ..errors import UsageError
from . import Rejection
from .records import check_context, import_key, iso_date, iso_datetime, not_utf8, registry, whole_number

BASE = "https://ipt-measures.org/fhir"
QUESTIONNAIRE = BASE + "/Questionnaire/"
SESSION_EXTENSION = BASE + "/StructureDefinition/ipt-session"
ALERT_EXTENSION = BASE + "/StructureDefinition/ipt-alert"
SCORE_SYSTEM = BASE + "/CodeSystem/score"
FLAG_SYSTEM = BASE + "/CodeSystem/flag"
METHOD_SYSTEM = BASE + "/CodeSystem/scoring-method"
CLIENT_SYSTEM = BASE + "/client-id"
PSEUDONYM_SYSTEM = BASE + "/client-pseudonym"
ADMINISTRATION_SYSTEM = BASE + "/administration"
ALERT_SYSTEM = BASE + "/alert"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"  # the R4-era name, read on import
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"  # R4 core extension: Reference(Any)
FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"  # R4 core extension
FLAG_PRIORITY_SYSTEM = "http://hl7.org/fhir/flag-priority-code"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# A skipped item: the respondent gave no answer; a declined one: asked and refused to answer.
ABSENT_REASON = {"skipped": "unknown", "declined": "asked-declined"}
# A total (or subscale) the published missing-item rule does not allow scoring. Not ``error``, which the
# data-absent-reason code system defines as "some system or workflow process error means that the
# information is not available": nothing failed. The score exists in principle (the respondent has a
# level of symptoms) but is not known from the answers given: ``unknown`` ("the value is expected to
# exist but is not known"), with the scorer's reason as text. Not ``asked-declined`` (the total was never
# asked for) nor ``not-performed`` (the questionnaire was given).
NOT_SCORED_REASON = "unknown"
BUNDLE_TYPES = ("collection", "transaction")
# Alert severity -> the R4 flag-priority code (PH high, PM medium, PL low).
FLAG_PRIORITY_CODE = {"critical": ("PH", "High priority"), "warning": ("PM", "Medium priority"),
                      "info": ("PL", "Low priority")}
# Sources whose completion time is when the respondent answered; any other (a paper form typed in with
# --answers or --file, an import) only says when someone entered it.
ENTERED_LATER = frozenset({"answers", "file", "import"})
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, BASE)
_NAMESPACE_BYTES = _NAMESPACE.bytes
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_SURVEY = [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}]


def _urn_uuid5(name: str) -> str:
    """``"urn:uuid:" + str(uuid.uuid5(_NAMESPACE, name))``, without building a UUID object: the same
    RFC 4122 name-based (SHA-1) UUID, version 5, variant bits 10 (a test checks they agree)."""
    x = hashlib.sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    # version nibble 5; the variant's two top bits 10 keep the third hex digit's low two bits
    return f"urn:uuid:{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def answer_system(instrument_id: str) -> str:
    return f"{BASE}/CodeSystem/{instrument_id}-answer"


def questionnaire_url(instrument_id: str, version: str) -> str:
    return f"{QUESTIONNAIRE}{instrument_id}|{version}"


def full_url(client_id: str, administration_id: Any, kind: str) -> str:
    return _urn_uuid5(f"{client_id}|{administration_id}|{kind}")


def patient_url(client_id: str) -> str:
    """The fullUrl of a client's Patient: every subject reference points here, whatever the id holds."""
    return _urn_uuid5(f"patient|{client_id}")


def client_identifier(client_id: str, deidentified: bool) -> dict:
    return {"system": PSEUDONYM_SYSTEM if deidentified else CLIENT_SYSTEM, "value": client_id}


def subject(client_id: str, deidentified: bool = False) -> dict:
    return {"reference": patient_url(client_id), "identifier": client_identifier(client_id, deidentified)}


def answered_at(record: dict) -> str:
    """When the form was answered: the completion time if it was given live on the session's date,
    otherwise the session's date (FHIR dateTime allows a bare date)."""
    admin, day = record["administration"], record["session"]["date"]
    finished = admin.get("finished_at")
    if finished and finished[:10] == day and admin.get("source") not in ENTERED_LATER:
        return finished
    return day


def _instrument(instrument_id: str):
    from ..plugins import get_registry

    return get_registry().instruments.get(instrument_id)


def scored_items(instrument: Any) -> set[str]:
    """Item ids that count towards some scale (directly or through a group): the items with weights."""
    ids: set[str] = set()
    for scale in instrument.scales:
        groups = {g.id: g.items for g in scale.groups}
        for part in scale.items:
            ids.update(groups.get(part, [part]))
    return ids


def answer_coding(instrument: Any, instrument_id: str, option: Any, scored: bool) -> dict:
    """The valueCoding of one answer option: LOINC where verified, else our code system; its weight when scored.
    The same coding in a QuestionnaireResponse answer and in the Questionnaire's answerOption."""
    coding: dict[str, Any] = {}
    if scored:
        coding["extension"] = [{"url": ITEM_WEIGHT, "valueDecimal": option.value}]
    if option.loinc:
        coding.update(system=LOINC, code=option.loinc, display=option.label)
    else:
        coding.update(system=answer_system(instrument_id), code=str(option.value), display=option.label)
    return coding


class _Plan:
    """What one instrument's records share, worked out once per export rather than once per answer: the
    answer items by (item, value), the codes of its scales, its title."""

    def __init__(self, instrument_id: str):
        self.instrument_id = instrument_id
        self.instrument = instrument = _instrument(instrument_id)
        self.answers: dict[tuple[str, Any, str], dict] = {}
        self.answers_json: dict[tuple[str, Any, str], str] = {}
        self.codes: dict[tuple[str, str], dict] = {}
        self.scales: dict[str, Any] = {}
        if instrument is None:
            self.title = instrument_id
            self.items: dict[str, Any] = {}
            self.scored: set[str] = set()
            return
        self.title = instrument.short_name or instrument.name
        self.items = {item.id: item for item in instrument.items}
        self.scored = scored_items(instrument)
        self.scales = {scale.id: scale for scale in instrument.scales}

    def answer(self, response: dict) -> dict:
        key = (response["item_id"], response["value"], response["status"])
        entry = self.answers.get(key)
        if entry is None:
            entry = self.answers[key] = self._answer(*key)
        return entry

    def answer_json(self, response: dict, encode) -> str:
        """The answer item as JSON text, encoded once per (item, value, status) for the whole export."""
        key = (response["item_id"], response["value"], response["status"])
        text = self.answers_json.get(key)
        if text is None:
            text = self.answers_json[key] = encode(self.answer(response))
        return text

    def _answer(self, item_id: str, value: Any, status: str) -> dict:
        item = self.items.get(item_id)
        entry: dict[str, Any] = {"linkId": item_id}
        if item is not None:
            entry["text"] = item.display()
        if status != "answered":
            entry["extension"] = [{"url": DATA_ABSENT, "valueCode": ABSENT_REASON[status]}]
            return entry
        option = None
        if item is not None:
            option = next((o for o in self.instrument.options_for(item) if o.value == value), None)
        if option is not None:
            coding = answer_coding(self.instrument, self.instrument_id, option, item_id in self.scored)
        else:  # an answer the current definition does not list (a plugin changed): keep what was stored
            coding = {"extension": [{"url": ITEM_WEIGHT, "valueDecimal": value}],
                      "system": answer_system(self.instrument_id), "code": str(value)}
        entry["answer"] = [{"valueCoding": coding}]
        return entry

    def scale_code(self, scale: dict) -> dict:
        key = (scale["id"], scale["name"])
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = self._scale_code(scale)
        return code

    def _scale_code(self, scale: dict) -> dict:
        coding = []
        scale_def = self.scales.get(scale["id"])
        if scale_def is not None and scale_def.loinc:  # only codes the definition carries as verified
            coding.append({"system": LOINC, "code": scale_def.loinc})
        coding.append({"system": SCORE_SYSTEM, "code": f"{self.instrument_id}.{scale['id']}"})
        return {"coding": coding, "text": f"{self.title}: {scale['name']}"}


class _State:
    """What one export works out once and reuses: each instrument's plan, and the parts of the last
    client and session (an export's records come grouped by client, course and session)."""

    def __init__(self, deidentified: bool = False):
        self.deidentified = deidentified
        self.plans: dict[str, _Plan] = {}
        self.client: Any = None
        self.who: dict = {}
        self.course: Any = None
        self.session: Any = None
        self.session_parts: list[dict] = []

    def plan(self, instrument_id: str) -> _Plan:
        plan = self.plans.get(instrument_id)
        if plan is None:
            plan = self.plans[instrument_id] = _Plan(instrument_id)
        return plan

    def subject(self, client_id: str) -> dict:
        if client_id != self.client:
            self.client, self.who = client_id, subject(client_id, self.deidentified)
        return self.who

    def session_extension(self, record: dict) -> dict:
        course, session, admin = record["course"], record["session"], record["administration"]
        if course != self.course or session != self.session:
            self.course, self.session, self.session_parts = course, session, _session_parts(course, session)
        parts = self.session_parts + [{"url": "respondent", "valueCode": admin["respondent"]}]
        if admin.get("finished_at"):
            parts.append({"url": "enteredAt", "valueDateTime": admin["finished_at"]})
        return {"url": SESSION_EXTENSION, "extension": parts}


def _session_parts(course: dict, session: dict) -> list[dict]:
    """The course and session parts of the ipt-session extension (respondent and entry time follow)."""
    parts: list[dict] = [{"url": "courseStart", "valueDate": course["start_date"]},
                         {"url": "plannedSessions", "valueInteger": course["planned_sessions"]}]
    parts += [{"url": "problemArea", "valueCode": area} for area in course["problem_areas"]]
    if course.get("protocol"):
        parts.append({"url": "protocol", "valueString": course["protocol"]})
    if course.get("end_date"):
        parts.append({"url": "courseEnd", "valueDate": course["end_date"]})
    if course.get("course_type"):
        parts.append({"url": "courseType", "valueCode": course["course_type"]})
    parts += [{"url": "sessionNumber", "valueInteger": session["number"]},
              {"url": "sessionDate", "valueDate": session["date"]},
              {"url": "phase", "valueCode": session["phase"]}]
    return parts


def _quantity(value: Any) -> dict:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def _absent(note: Optional[str]) -> dict:
    concept: dict[str, Any] = {"coding": [{"system": DATA_ABSENT_SYSTEM, "code": NOT_SCORED_REASON}]}
    if note:
        concept["text"] = note
    return concept


def patient(client_id: str, client: dict, deidentified: bool) -> dict:
    """A client's Patient: the pseudonymous identifier, and a name and birth year only if the export has them."""
    resource: dict[str, Any] = {"resourceType": "Patient",
                                "identifier": [client_identifier(client_id, deidentified)]}
    if client.get("display_name"):
        resource["name"] = [{"text": client["display_name"]}]
    if client.get("birth_year"):
        resource["birthDate"] = str(client["birth_year"])
    return resource


def resources(record: dict, state: Optional[_State] = None, deidentified: bool = False,
              items: bool = True) -> list[tuple[str, dict]]:
    """The (fullUrl, resource) pairs of one export record: QuestionnaireResponse, Observation (if scored),
    Provenance (if amended), a Flag per alert. ``state`` carries what an export reuses between records;
    ``items=False`` leaves the response's answer items out (the writer splices them in as text)."""
    state = _State(deidentified) if state is None else state
    admin = record["administration"]
    client_id = record["client"]["id"]
    instrument_id = admin["instrument_id"]
    plan = state.plan(instrument_id)
    when = answered_at(record)
    amendments = record.get("amendments") or []
    status = "amended" if amendments else None
    who = state.subject(client_id)
    qr_url = full_url(client_id, admin["id"], "QuestionnaireResponse")
    qr: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": qr_url[9:],
        "extension": [state.session_extension(record)],
        "identifier": {"system": ADMINISTRATION_SYSTEM, "value": str(admin["id"])},
        "questionnaire": questionnaire_url(instrument_id, admin["instrument_version"]),
        "status": status or "completed",
        "subject": who,
        "authored": when,
    }
    if items and record["responses"]:
        qr["item"] = [plan.answer(r) for r in record["responses"]]
    out = [(qr_url, qr)]
    score = record.get("score")
    obs_url = None
    if score:
        obs_url = full_url(client_id, admin["id"], "Observation")
        out.append((obs_url, _observation(obs_url, qr_url, plan, score, who, when, status or "final")))
    if amendments:
        out.append(_provenance(client_id, admin["id"], [qr_url] + ([obs_url] if obs_url else []), amendments))
    for alert in record.get("alerts") or []:
        out.append(flag(client_id, alert, who, qr_url if alert.get("administration_id") is not None else None))
    return out


def _observation(obs_url: str, qr_url: str, plan: _Plan, score: dict, who: dict, when: str, status: str) -> dict:
    total = score["total"]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_url[9:],
        "status": status,
        "category": _SURVEY,
        "code": plan.scale_code(total),
        "subject": who,
        "effectiveDateTime": when,
    }
    if total.get("value") is not None:
        obs["valueQuantity"] = _quantity(total["value"])
    else:
        obs["dataAbsentReason"] = _absent(total.get("note"))
    if total.get("band"):
        obs["interpretation"] = [{"text": total["band"]}]
    if total.get("prorated"):
        obs["method"] = {"coding": [{"system": METHOD_SYSTEM, "code": "prorated", "display": "Prorated"}],
                         "text": total.get("note") or "prorated"}
    components = []
    for sub in score.get("subscales", []):
        component: dict[str, Any] = {"code": plan.scale_code(sub)}
        if sub.get("value") is not None:
            component["valueQuantity"] = _quantity(sub["value"])
        else:
            component["dataAbsentReason"] = _absent(sub.get("note"))
        if sub.get("band"):
            component["interpretation"] = [{"text": sub["band"]}]
        components.append(component)
    notes = []
    for item_flag in score.get("flags", []):
        components.append({
            "code": {"coding": [{"system": FLAG_SYSTEM, "code": "critical-item"}],
                     "text": f"Critical item {item_flag['item']} ({item_flag['kind']})"},
            "valueString": f"{item_flag['message']} (item {item_flag['item']}: {item_flag['answer']})",
        })
        notes.append({"text": f"CRITICAL ITEM: {item_flag['message']} (item {item_flag['item']}: "
                              f"{item_flag['answer']})"})
    if components:
        obs["component"] = components
    if notes:
        obs["note"] = notes
    obs["derivedFrom"] = [{"reference": qr_url}]
    return obs


def _provenance(client_id: str, administration_id: Any, targets: list[str], amendments: list[dict]) -> tuple[str, dict]:
    """Who changed what and why: one Provenance for the amended response and its score.

    ``recorded`` is the last amendment; each change is an ``entity`` of role ``revision`` whose display
    says what the record held before and holds now (FHIR has no field for a diff; the audit keeps it)."""
    url = full_url(client_id, administration_id, "Provenance")
    last = amendments[-1]
    actors = list(dict.fromkeys(a.get("actor") or "unknown" for a in amendments))
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": url[9:],
        "target": [{"reference": t} for t in targets],
        "recorded": last["at"],
        "activity": {"coding": [{"system": DATA_OPERATION_SYSTEM, "code": "UPDATE", "display": "revise"}],
                     "text": "amended"},
        "agent": [{"type": {"coding": [{"system": PROVENANCE_ROLE_SYSTEM, "code": "author", "display": "Author"}]},
                   "who": {"display": actor}} for actor in actors],
        "entity": [{"role": "revision", "what": {"display": _change_text(a)}} for a in amendments],
    }
    reasons = list(dict.fromkeys(a["reason"] for a in amendments if a.get("reason")))
    if reasons:
        resource["reason"] = [{"text": r} for r in reasons]
    return url, resource


def _change_text(amendment: dict) -> str:
    what = amendment.get("field") or "record"
    return f"{amendment['at']}: {what} changed from {amendment.get('old')} to {amendment.get('new')}"


def flag(client_id: str, alert: dict, who: dict, qr_url: Optional[str]) -> tuple[str, dict]:
    """One alert as a FHIR ``Flag``, pointing at the QuestionnaireResponse that raised it.

    Flag, not DetectedIssue: an alert here is a warning that must stay in front of whoever cares for the
    client until someone acts on it, which is what Flag is for ("prospective warnings of potential issues
    when providing care to the patient", with ``status`` active/inactive mapping open/acknowledged and
    ``period`` from raised to acknowledged). DetectedIssue is for a problem with a proposed or ongoing
    clinical action (a drug interaction, a duplicate order), which an endorsed item or a reliable
    deterioration is not. The response is linked with the R4 core ``flag-detail`` extension, the
    severity with ``flag-priority``; the kind, the action taken and its note travel in our ``ipt-alert``
    extension, published with the definitions.
    """
    url = full_url(client_id, f"alert-{alert['id']}", "Flag")
    code, display = FLAG_PRIORITY_CODE.get(alert.get("severity"), FLAG_PRIORITY_CODE["info"])
    extension: list[dict] = [{"url": FLAG_PRIORITY, "valueCodeableConcept": {
        "coding": [{"system": FLAG_PRIORITY_SYSTEM, "code": code, "display": display}]}}]
    if qr_url:
        extension.append({"url": FLAG_DETAIL, "valueReference": {"reference": qr_url}})
    parts = [{"url": "kind", "valueCode": alert["kind"]}, {"url": "severity", "valueCode": alert["severity"]}]
    if alert.get("item_id"):
        parts.append({"url": "item", "valueString": str(alert["item_id"])})
    for key, name in (("action", "action"), ("note", "note"), ("acknowledged_by", "acknowledgedBy")):
        if alert.get(key):
            parts.append({"url": name, "valueString": alert[key]})
    extension.append({"url": ALERT_EXTENSION, "extension": parts})
    period = {"start": alert["raised_at"]}
    if alert.get("acknowledged_at"):
        period["end"] = alert["acknowledged_at"]
    resource = {
        "resourceType": "Flag",
        "id": url[9:],
        "extension": extension,
        "identifier": [{"system": ALERT_SYSTEM, "value": str(alert["id"])}],
        "status": "active" if alert.get("status") == "open" else "inactive",
        "category": [{"coding": [{"system": FLAG_CATEGORY_SYSTEM, "code": "clinical", "display": "Clinical"}]}],
        "code": {"coding": [{"system": FLAG_SYSTEM, "code": alert["kind"]}], "text": alert["message"]},
        "subject": who,
        "period": period,
    }
    return url, resource


def _request(resource: dict, deidentified: bool) -> dict:
    """The ``request`` of a transaction entry: a create, conditional on the identifier for a Patient and on
    the canonical URL and version for a definition, so posting twice does not duplicate them."""
    kind = resource["resourceType"]
    request: dict[str, Any] = {"method": "POST", "url": kind}
    if kind == "Patient":
        ident = resource["identifier"][0]
        request["ifNoneExist"] = f"identifier={quote(ident['system'], safe=':/')}|{quote(ident['value'], safe='')}"
    elif "url" in resource and kind in ("Questionnaire", "CodeSystem", "StructureDefinition"):
        request["ifNoneExist"] = f"url={quote(resource['url'], safe=':/')}&version={quote(resource['version'], safe='')}"
    return request


def write(rows: Iterable[dict], out: IO[str], *, bundle_type: str = "collection", with_definitions: bool = False,
          instruments: Iterable[str] = (), deidentified: bool = False, **options: Any) -> None:
    """Write the Bundle entry by entry (streaming). Most of a response's bytes are the same few hundred
    objects over and over (answer items, codes, a client's subject, a session's extension parts), so
    those are encoded once and spliced in as JSON text: the same JSON as encoding each entry whole, at a
    fraction of the cost (a test checks the two agree)."""
    if bundle_type not in BUNDLE_TYPES:
        from ..errors import UsageError

        raise UsageError(f"unknown bundle type {bundle_type!r} (available: {', '.join(BUNDLE_TYPES)})")
    transaction = bundle_type == "transaction"
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    head = '{"resourceType":"Bundle","type":"' + bundle_type + '"'
    first = True
    encoded: dict[int, tuple[Any, str]] = {}

    def fragment(obj: Any) -> str:
        """The JSON of an object the export reuses by identity (kept alive here, so its id stays its own)."""
        hit = encoded.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(encoded) >= 4096:
            encoded.clear()
        text = encode(obj)
        encoded[id(obj)] = (obj, text)
        return text

    def emit(url: str, resource: dict, tail: Iterable[tuple[str, str]] = ()) -> None:
        """One entry; ``tail`` is (key, JSON text) pairs appended to the resource as they are."""
        nonlocal first
        if transaction:
            resource.pop("id", None)
        body = encode(resource)[:-1] + "".join(f',"{key}":{text}' for key, text in tail) + "}"
        text = '{"fullUrl":"' + url + '","resource":' + body
        if transaction:
            text += ',"request":' + encode(_request(resource, deidentified))
        out.write((head + ',"entry":[\n' if first else ",\n") + text + "}")
        first = False

    if with_definitions:
        from .fhir_definitions import definition_resources, definition_url

        for resource in definition_resources(list(instruments)):
            emit(definition_url(resource), resource)
    state = _State(deidentified)
    clients: set[str] = set()
    session_head = '[{"url":' + encode(SESSION_EXTENSION) + ',"extension":['
    for record in rows:
        client_id = record["client"]["id"]
        if client_id not in clients:
            clients.add(client_id)
            emit(patient_url(client_id), patient(client_id, record["client"], deidentified))
        found = resources(record, state, items=False)
        (qr_url, qr) = found[0]
        parts = qr.pop("extension")[0]["extension"]
        shared = len(state.session_parts)
        tail = [("subject", fragment(qr.pop("subject"))),
                ("extension", session_head + fragment(state.session_parts)[1:-1] + ","
                 + encode(parts[shared:])[1:-1] + "]}]")]
        if record["responses"]:
            plan = state.plans[record["administration"]["instrument_id"]]
            known = plan.answers_json
            tail.append(("item", "[" + ",".join([known.get((r["item_id"], r["value"], r["status"]))
                                                 or plan.answer_json(r, encode) for r in record["responses"]]) + "]"))
        emit(qr_url, qr, tail)
        for url, resource in found[1:]:
            tail = [(key, fragment(resource.pop(key))) for key in ("subject", "category", "code") if key in resource]
            emit(url, resource, tail)
    out.write(head + "}\n" if first else "\n]}\n")  # FHIR JSON has no empty arrays: no records, no entry


# -- reading ------------------------------------------------------------------------------------------

JSON_MAX = 64 << 20  # bytes: a Bundle is read whole, and JSON in memory takes about ten times its size


def _load_json(path: Path) -> dict:
    size = os.path.getsize(path)
    if size > JSON_MAX:
        raise UsageError(f"{path.name} is {size / (1 << 20):.0f} MB: FHIR JSON is read whole, so files over "
                         f"{JSON_MAX >> 20} MB are refused; split the Bundle, or use the long CSV for large transfers")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path.name} is not JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except RecursionError:
        raise UsageError(f"{path.name} is nested too deeply to be a FHIR resource") from None
    except ValueError as exc:  # a number of more than 4300 digits, say
        raise UsageError(f"{path.name} is not usable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("resourceType") not in ("Bundle", "QuestionnaireResponse"):
        raise UsageError(f"{path.name} is neither a FHIR Bundle nor a QuestionnaireResponse")
    return data


def _entries(data: dict, path: Path) -> list[tuple[Optional[str], dict]]:
    """The Bundle's (fullUrl, resource) pairs; a file whose structure is not a Bundle's is refused whole."""
    if data["resourceType"] == "QuestionnaireResponse":
        return [(None, data)]
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise UsageError(f"{path.name}: the Bundle's entry is not a list")
    pairs = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise UsageError(f"{path.name}: entry {n} is not a JSON object")
        resource = entry.get("resource") or {}
        if not isinstance(resource, dict):
            raise UsageError(f"{path.name}: entry {n}: the resource is not a JSON object")
        full_url = entry.get("fullUrl")
        pairs.append((full_url if isinstance(full_url, str) else None, resource))
    return pairs


def read(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Any]:
    """Yield one record or list of rejections per QuestionnaireResponse in the file.

    A whole Bundle is read into memory (JSON has no streaming reader in the standard library); the long
    CSV is the format for very large transfers.
    """
    path = Path(path)
    entries = _entries(_load_json(path), path)
    if update is not None:  # progress in bytes, as for every reader: each entry's share of the file
        size, count, told = path.stat().st_size, max(len(entries), 1), [0]

        def per_entry(n: int, report=update) -> None:
            told[0] += n
            report(size * told[0] // count - size * (told[0] - n) // count)

        update = per_entry
    yield from _parse_entries(entries, update)


def _parse_entries(entries: list[tuple[Optional[str], dict]], update: Optional[Callable[[int], Any]]) -> Iterator[Any]:
    totals: dict[str, Any] = {}
    for full_url, resource in entries:
        if resource.get("resourceType") == "Observation":
            refs = resource.get("derivedFrom") or []
            for ref in refs if isinstance(refs, list) else []:
                if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                    totals.setdefault(ref["reference"], []).append(resource)
    for n, (full_url, resource) in enumerate(entries, start=1):
        if update is not None:
            update(1)
        if resource.get("resourceType") != "QuestionnaireResponse":
            continue
        where = f"entry {n}" if _in_bundle(entries) else "QuestionnaireResponse"
        try:
            yield _from_questionnaire_response(resource, full_url, where, totals)
        except _Rejected as exc:
            yield exc.problems
        except (AttributeError, TypeError, KeyError):
            # A field of the wrong JSON type deep inside (a subject that is a string, an answer that is a
            # list...): the response is rejected like any other malformed one, never half-read.
            yield [Rejection(where, "not a valid QuestionnaireResponse: a field has the wrong JSON type")]


def _in_bundle(entries: list) -> bool:
    return not (len(entries) == 1 and entries[0][0] is None)


class _Rejected(Exception):
    def __init__(self, problems: list[Rejection]):
        super().__init__(problems)
        self.problems = problems


def _from_questionnaire_response(qr: dict, full_url: Optional[str], where: str, totals: dict) -> dict:
    def reject(reason: str):
        raise _Rejected([Rejection(where, reason)])

    if qr.get("status") not in ("completed", "amended"):
        reject(f"status {qr.get('status')!r}: only completed responses are imported")
    instrument = _questionnaire_instrument(qr.get("questionnaire") or "")
    if isinstance(instrument, str):
        reject(instrument)
    client_id = _subject_id(qr.get("subject") or {})
    if not client_id:
        reject("no subject: a Patient reference or an identifier is needed")
    authored = qr.get("authored")
    try:
        if authored is not None:
            iso_datetime(authored, "authored") if "T" in str(authored) else iso_date(authored, "authored")
        context = _session_context(qr, authored)
        client_id, _, _, context["course"], context["session"] = check_context(
            {"client_id": client_id, "course": context["course"], "session": context["session"]})
    except ValueError as exc:
        reject(str(exc))
    items = {item.id: item.id for item in instrument.items}
    items.update({item.loinc: item.id for item in instrument.items if item.loinc})
    scales = {scale.loinc: scale for scale in instrument.scales if scale.loinc}
    responses: list[tuple[str, Optional[int], str]] = []
    problems: list[Rejection] = []
    stated: Optional[float] = None
    seen: set[str] = set()
    for entry in _flatten(qr.get("item") or []):
        link = str(entry.get("linkId", ""))
        code = link.rstrip("/").rsplit("/", 1)[-1]  # "9", "44260-8", "/44260-8", "/44249-1/44260-8"
        at = f"{where} item {link!r}"
        item_id = link if link in items else items.get(code)
        try:
            if item_id is None and code in scales:
                value = _stated_value(entry)
                if value is not None and scales[code] is instrument.primary:
                    stated = value
                continue
            if item_id is None:
                raise ValueError(f"{instrument.id} has no item {link!r} (by item id or LOINC code)")
            value, status = _answer_value(instrument, item_id, entry)
            if item_id in seen:
                raise ValueError(f"item {item_id} appears twice")
        except ValueError as exc:
            problems.append(Rejection(at, str(exc)))
            continue
        seen.add(item_id)
        responses.append((item_id, value, status))
    if problems:
        raise _Rejected(problems)
    if not responses:
        reject("no item answers")
    observed = _stated_total(instrument, qr, full_url, totals)
    if stated is not None and observed is not None and stated != observed:
        reject(f"the response states a total of {stated:g} and its Observation {observed:g}")
    identifier = qr.get("identifier") or {}
    if isinstance(identifier, list):  # R5 makes it a list
        identifier = identifier[0] if identifier else {}
    origin = identifier.get("value") or full_url or qr.get("id") or json.dumps(qr, sort_keys=True)
    return {
        "where": where,
        "stated_total": stated if stated is not None else observed,
        "client_id": client_id,
        "display_name": None,
        "birth_year": None,
        "course": context["course"],
        "session": context["session"],
        "administration": {
            "instrument_id": instrument.id,
            "instrument_version": instrument.version,
            "respondent": context["respondent"] or instrument.respondent,
            "source": "import",
            "started_at": authored,
            "finished_at": authored,
            "import_key": import_key("fhir", client_id, instrument.id, identifier.get("system", ""), origin),
        },
        "responses": responses,
    }


def _stated_value(entry: dict) -> Optional[float]:
    """The value of a response item that states a score (valueDecimal, valueInteger or valueQuantity)."""
    for answer in entry.get("answer") or []:
        for name in ("valueDecimal", "valueInteger"):
            if isinstance(answer.get(name), (int, float)) and not isinstance(answer.get(name), bool):
                return float(answer[name])
        quantity = answer.get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), (int, float)):
            return float(quantity["value"])
        raise ValueError("a total item whose answer is not a number")
    return None


def _questionnaire_instrument(url: Any):
    """The registered instrument a response's ``questionnaire`` names: our canonical, or a LOINC panel code."""
    if not isinstance(url, str):
        return "questionnaire is not a canonical URL"
    instruments = registry().instruments
    canonical, _, version = url.partition("|")
    name = canonical.rstrip("/").rsplit("/", 1)[-1]
    if canonical.startswith(QUESTIONNAIRE) or (canonical.startswith("Questionnaire/") and name in instruments):
        instrument = instruments.get(name)
        if instrument is None:
            return f"unknown instrument {name!r} (registered: {', '.join(sorted(instruments))})"
        if version and version != instrument.version:
            return (f"{name} version {version!r} is not the registered version {instrument.version!r}; "
                    "its scoring rules may differ")
        return instrument
    # A LOINC-coded questionnaire: its last path segment is the panel code (http://loinc.org/q/44249-1,
    # Questionnaire/44249-1), or LHC-Forms' server id for it (Questionnaire/44249-1-x).
    for instrument in instruments.values():
        if instrument.loinc and (name == instrument.loinc or name.startswith(instrument.loinc + "-")):
            return instrument
    known = ", ".join(f"{i.id} {i.loinc}" for i in instruments.values() if i.loinc)
    return (f"questionnaire {url!r} is not a registered instrument (expected {QUESTIONNAIRE}<instrument>|<version> "
            f"or a LOINC panel code: {known})")


def _subject_id(subject: dict) -> Optional[str]:
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    ref = subject.get("reference") or ""
    if ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


def _session_context(qr: dict, authored: Optional[str]) -> dict:
    ext = next((e for e in qr.get("extension") or [] if e.get("url") == SESSION_EXTENSION), None)
    if ext is None:  # a standard response: filed into a stored course by the import
        day = iso_date(authored, "authored") if authored else None
        return {"course": None, "session": {"number": None, "date": day, "phase": None}, "respondent": None}
    parts: dict[str, list[Any]] = {}
    for sub in ext.get("extension") or []:
        value = next((v for k, v in sub.items() if k.startswith("value")), None)
        parts.setdefault(sub.get("url"), []).append(value)

    def one(name: str, required: bool = True):
        values = parts.get(name) or []
        if not values and required:
            raise ValueError(f"the ipt-session extension lacks {name}")
        return values[0] if values else None

    course = {"start_date": one("courseStart"), "planned_sessions": one("plannedSessions"),
              "problem_areas": [str(a) for a in parts.get("problemArea") or []], "protocol": one("protocol", False),
              "course_type": one("courseType", False)}
    if one("courseEnd", required=False):
        course["end_date"] = one("courseEnd")
    return {
        "course": course,
        "session": {"number": one("sessionNumber"), "date": one("sessionDate"), "phase": one("phase")},
        "respondent": one("respondent", required=False),
    }


def _flatten(items: Iterable[dict]) -> Iterator[dict]:
    for entry in items:
        if not isinstance(entry, dict):
            continue
        if entry.get("item"):  # a group: its questions are what count
            yield from _flatten(entry["item"])
            continue
        yield entry


def _answer_value(instrument: Any, item_id: str, entry: dict) -> tuple[Optional[int], str]:
    """The value of one answer, from whichever of its code, ordinal value/weight or number is present; all agree."""
    answers = entry.get("answer") or []
    if not answers:
        reason = next((e.get("valueCode") for e in entry.get("extension") or [] if e.get("url") == DATA_ABSENT), None)
        return None, "declined" if reason == "asked-declined" else "skipped"
    if len(answers) > 1:
        raise ValueError(f"item {item_id} has {len(answers)} answers; one is expected")
    answer = answers[0]
    item = instrument.item(item_id)
    allowed = {o.value for o in instrument.options_for(item)}
    found: list[tuple[str, int]] = []  # (what said it, value)
    for name in ("valueInteger", "valueDecimal"):
        if name in answer:
            found.append((name, whole_number(answer[name], f"item {item_id}: {name}")))
    coding = answer.get("valueCoding")
    if coding is not None:
        if not isinstance(coding, dict):
            raise ValueError(f"item {item_id}: valueCoding is not a Coding")
        for ext in coding.get("extension") or []:
            if ext.get("url") in (ITEM_WEIGHT, ORDINAL_VALUE):
                weight = ext.get("valueDecimal", ext.get("valueInteger"))
                found.append((ext["url"].rsplit("/", 1)[-1], whole_number(weight, f"item {item_id}: weight")))
        system, code = coding.get("system"), coding.get("code")
        by_loinc = {o.loinc: o.value for o in instrument.options_for(item) if o.loinc}
        if code is not None and system in (LOINC, None) and code in by_loinc:
            found.append((f"LOINC answer {code}", by_loinc[code]))
        elif code is not None and system == answer_system(instrument.id):
            found.append((f"answer code {code}", whole_number(code, f"item {item_id}: answer code")))
        elif code is not None and not found:
            # An answer code we do not hold (e.g. LA18938-3 "More days than not", LHC-Forms' GAD-7 item 2) is
            # taken only with its ordinal value or weight, never guessed from its label.
            raise ValueError(f"item {item_id}: answer {system or ''}|{code} is not one of this item's coded answers "
                             "and carries no ordinalValue or itemWeight")
    elif not found:
        raise ValueError(f"item {item_id}: the answer is not a valueCoding, valueInteger or valueDecimal")
    if not found:
        raise ValueError(f"item {item_id}: the answer gives no value")
    values = {value for _, value in found}
    if len(values) > 1:
        raise ValueError(f"item {item_id}: the answer disagrees with itself ("
                         + ", ".join(f"{what} says {value}" for what, value in found) + ")")
    value = values.pop()
    if value not in allowed:
        raise ValueError(f"{instrument.id} item {item_id}: {value} is not an allowed answer "
                         f"(allowed: {', '.join(map(str, sorted(allowed)))})")
    return value, "answered"


def _stated_total(instrument: Any, qr: dict, full_url: Optional[str], totals: dict) -> Optional[float]:
    refs = [r for r in (full_url, f"QuestionnaireResponse/{qr.get('id')}" if qr.get("id") else None) if r]
    own = f"{instrument.id}.{instrument.primary.id}"
    for ref in refs:
        for obs in totals.get(ref, []):
            codes = {(c.get("system"), c.get("code")) for c in (obs.get("code") or {}).get("coding") or []}
            if (SCORE_SYSTEM, own) in codes or (instrument.primary.loinc and (LOINC, instrument.primary.loinc) in codes):
                quantity = obs.get("valueQuantity") or {}
                if quantity.get("value") is not None:
                    return float(quantity["value"])
    return None
