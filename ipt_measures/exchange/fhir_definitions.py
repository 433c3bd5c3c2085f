"""The FHIR R4 definitions our exports point to: a Questionnaire per instrument, the CodeSystems of our own
codes and the StructureDefinitions of our extensions, so every canonical URL in an export resolves.

- **Questionnaire** (SDC style, as the SDC IG scores questionnaires): ``url`` our canonical
  ``https://ipt-measures.org/fhir/Questionnaire/<instrument>``, ``version`` the definition's version (the
  QuestionnaireResponse points to ``url|version``); an item per question, ``type`` choice, its text only
  where the definition ships it (the field is left out by definitions whose licence does not allow it,
  and then the neutral label stands in), LOINC ``code`` only where the definition carries a verified one;
  each ``answerOption`` is the very ``valueCoding`` a response uses, with the option's weight in the
  ``itemWeight`` extension where the item is scored. The scoring rules themselves (missing-item rule,
  bands) stay in the instrument definition; the total is the Observation in an export.
- **CodeSystem** ``<instrument>-answer`` (answer values of options without a LOINC code), ``score`` (every
  scale, ``<instrument>.<scale>``), ``flag`` (critical items and alert kinds) and ``scoring-method``.
- **StructureDefinition** of the ``ipt-session`` extension (on QuestionnaireResponse) and the ``ipt-alert``
  extension (on Flag), as complex extensions, so strict validators resolve them.
"""

from __future__ import annotations

from typing import Any, Iterable

from . import fhir as f

PUBLISHER = "ipt-measures"
EXTENSION_BASE = "http://hl7.org/fhir/StructureDefinition/Extension"
ALERT_KINDS = {
    "critical-item": "A critical item was endorsed",
    "risk-item-unanswered": "A critical (risk) item was skipped or declined: ask directly",
    "reliable-deterioration": "Reliable deterioration from baseline",
    "instrument-rule": "An alert rule declared in the instrument definition",
    "mid-course-review": "The course is due a mid-course review",
}
SCORING_METHODS = {"prorated": "Prorated: the sum scaled up to the full number of items, as the instrument's "
                               "published missing-item rule allows"}
# (name, FHIR type, min, max, short description)
SESSION_PARTS = [
    ("courseStart", "date", 1, "1", "Start date of the IPT course"),
    ("plannedSessions", "integer", 1, "1", "Number of sessions planned for the course (its type sets the range)"),
    ("problemArea", "code", 0, "*", "IPT problem area: grief, role-disputes, role-transitions, "
                                    "interpersonal-deficits"),
    ("protocol", "string", 0, "1", "Measurement protocol of the course"),
    ("courseEnd", "date", 0, "1", "End date of the course, if it has ended"),
    ("courseType", "code", 0, "1", "IPT course type: standard (12-16 weekly), brief (IPT-B, 8), maintenance (monthly)"),
    ("sessionNumber", "integer", 1, "1", "Number of the session within the course"),
    ("sessionDate", "date", 1, "1", "Date of the session"),
    ("phase", "code", 1, "1", "IPT phase of the session: initial, middle, termination"),
    ("respondent", "code", 0, "1", "self-report or clinician-rated"),
    ("enteredAt", "dateTime", 0, "1", "When the administration was entered in the record (completed or typed in)"),
]
ALERT_PARTS = [
    ("kind", "code", 1, "1", "Kind of alert (CodeSystem flag)"),
    ("severity", "code", 1, "1", "critical, warning or info"),
    ("item", "string", 0, "1", "The item that raised it, if one did"),
    ("action", "string", 0, "1", "What was done when it was acknowledged"),
    ("note", "string", 0, "1", "A note added on acknowledgement"),
    ("acknowledgedBy", "string", 0, "1", "Who acknowledged it"),
]


def _version() -> str:
    from .. import __version__

    return __version__


def _computable_name(text: str) -> str:
    """``qids-sr16`` -> ``QidsSr16``: a name that matches FHIR's ``[A-Z]([A-Za-z0-9_]){0,254}``."""
    name = "".join(part[:1].upper() + part[1:] for part in text.replace(".", "-").split("-") if part)
    return name if name[:1].isalpha() else "I" + name


def questionnaire(instrument: Any) -> dict:
    """An instrument as a FHIR R4 Questionnaire whose answer codings match our QuestionnaireResponses."""
    scored = f.scored_items(instrument)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "url": f.QUESTIONNAIRE + instrument.id,
        "version": instrument.version,
        "name": _computable_name(instrument.id),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": PUBLISHER,
        "description": f"{instrument.name}. {instrument.citation}",
        "copyright": instrument.licence + (f". {instrument.licence_note}" if instrument.licence_note else ""),
    }
    if instrument.loinc:
        resource["code"] = [{"system": f.LOINC, "code": instrument.loinc, "display": instrument.name}]
    items = []
    for item in instrument.items:
        entry: dict[str, Any] = {"linkId": item.id}
        if item.loinc:
            entry["code"] = [{"system": f.LOINC, "code": item.loinc}]
        # required only where nothing may be left out: a scale with a missing-item rule accepts a skip
        entry.update(text=item.display(), type="choice", required=not (item.optional or instrument.allows_skipping))
        entry["answerOption"] = [{"valueCoding": f.answer_coding(instrument, instrument.id, option, item.id in scored)}
                                 for option in instrument.options_for(item)]
        items.append(entry)
    resource["item"] = items
    return resource


def _code_system(url: str, name: str, title: str, version: str, concepts: list[dict], description: str) -> dict:
    return {
        "resourceType": "CodeSystem",
        "id": url.rsplit("/", 1)[1],
        "url": url,
        "version": version,
        "name": name,
        "title": title,
        "status": "active",
        "publisher": PUBLISHER,
        "description": description,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def answer_code_system(instrument: Any) -> dict:
    """The answer values of an instrument's options that have no LOINC code, code = the value as text."""
    labels: dict[int, list[str]] = {}
    for item in instrument.items:
        for option in instrument.options_for(item):
            if not option.loinc:
                names = labels.setdefault(option.value, [])
                if option.label not in names:
                    names.append(option.label)
    concepts = [{"code": str(value), "display": " / ".join(names)} for value, names in sorted(labels.items())]
    return _code_system(f.answer_system(instrument.id), _computable_name(instrument.id) + "Answer",
                        f"{instrument.name}: answer values", instrument.version, concepts,
                        "Answer values of the instrument's response options (the value scored), for options "
                        "without a verified LOINC answer code.")


def score_code_system(instruments: Iterable[Any]) -> dict:
    concepts = [{"code": f"{inst.id}.{scale.id}", "display": f"{inst.short_name or inst.name}: {scale.name}"}
                for inst in instruments for scale in inst.scales]
    return _code_system(f.SCORE_SYSTEM, "IptScore", "ipt-measures scores", _version(), concepts,
                        "Scores (totals and subscales) of the registered instruments: <instrument>.<scale>.")


def flag_code_system() -> dict:
    concepts = [{"code": code, "display": display} for code, display in ALERT_KINDS.items()]
    return _code_system(f.FLAG_SYSTEM, "IptFlag", "ipt-measures alerts and critical items", _version(), concepts,
                        "Kinds of alert raised by an answer or a score.")


def method_code_system() -> dict:
    concepts = [{"code": code, "display": display} for code, display in SCORING_METHODS.items()]
    return _code_system(f.METHOD_SYSTEM, "IptScoringMethod", "ipt-measures scoring methods", _version(), concepts,
                        "How a score was obtained when it is not a plain complete score.")


def extension_definition(url: str, name: str, title: str, context: str, parts: list[tuple]) -> dict:
    """A complex extension (sub-extensions only, no value of its own) as an R4 StructureDefinition.

    ``fhirVersion`` (optional) is left out: R4's current release is 4.0.1, but the official R4 JSON schema
    (published with 4.0.0) lists only earlier codes, so stating it would fail that validator for nothing."""
    elements: list[dict] = [
        {"id": "Extension", "path": "Extension", "short": title, "definition": title, "min": 0, "max": "1"},
        {"id": "Extension.extension", "path": "Extension.extension",
         "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}},
    ]
    for part, kind, low, high, short in parts:
        slice_id = f"Extension.extension:{part}"
        elements += [
            {"id": slice_id, "path": "Extension.extension", "sliceName": part, "short": short, "definition": short,
             "min": low, "max": high},
            {"id": f"{slice_id}.extension", "path": "Extension.extension.extension", "max": "0"},
            {"id": f"{slice_id}.url", "path": "Extension.extension.url", "fixedUri": part},
            {"id": f"{slice_id}.value[x]", "path": "Extension.extension.value[x]", "min": 1,
             "type": [{"code": kind}]},
        ]
    elements += [
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    return {
        "resourceType": "StructureDefinition",
        "id": url.rsplit("/", 1)[1],
        "url": url,
        "version": _version(),
        "name": name,
        "title": title,
        "status": "active",
        "publisher": PUBLISHER,
        "description": title,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": context}],
        "type": "Extension",
        "baseDefinition": EXTENSION_BASE,
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def structure_definitions() -> list[dict]:
    return [
        extension_definition(f.SESSION_EXTENSION, "IptSession", "The IPT course and session of a response",
                             "QuestionnaireResponse", SESSION_PARTS),
        extension_definition(f.ALERT_EXTENSION, "IptAlert", "An ipt-measures alert: its kind and acknowledgement",
                             "Flag", ALERT_PARTS),
    ]


def definition_resources(instrument_ids: Iterable[str] | None = None) -> list[dict]:
    """Every definition an export of these instruments points to (None: every registered instrument)."""
    from ..plugins import get_registry

    registered = get_registry().instruments
    ids = sorted(registered) if instrument_ids is None else [i for i in instrument_ids if i in registered]
    chosen = [registered[i] for i in ids]
    out = structure_definitions()
    out += [score_code_system(registered[i] for i in sorted(registered)), flag_code_system(), method_code_system()]
    for instrument in chosen:
        out.append(questionnaire(instrument))
        answers = answer_code_system(instrument)
        if answers["concept"]:  # none when every option has a LOINC answer code (PHQ-9, GAD-7)
            out.append(answers)
    return out


def definitions_bundle(instrument_ids: Iterable[str] | None = None) -> dict:
    """The definitions as a ``collection`` Bundle (``ipt instruments export --all --format fhir``)."""
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": definition_url(r), "resource": r} for r in definition_resources(instrument_ids)]}


def definition_url(resource: dict) -> str:
    """A definition's fullUrl: a urn:uuid of its canonical URL and version (one per version in a Bundle)."""
    return f.full_url(resource["url"], resource["version"], resource["resourceType"])


def instrument_definitions(instrument_ids: list[str] | None) -> dict:
    """One instrument's Questionnaire, or for several (None: all) a Bundle of every definition they need.

    An unknown id is an error naming it, before anything is built."""
    from ..plugins import get_registry

    registry = get_registry()
    if instrument_ids is None:
        return definitions_bundle(None)
    ids = [registry.instrument(i).id for i in dict.fromkeys(instrument_ids)]  # NotFound names an unknown id
    if len(ids) == 1:
        return questionnaire(registry.instruments[ids[0]])
    return definitions_bundle(ids)
