"""FHIR R4 QuestionnaireResponses (a Bundle of them with their total Observations, or one alone): read for import.

Our own export puts the IPT course and session in the ``ipt-session`` extension; items are matched by our
item id or by LOINC code (``/44250-9`` or ``44250-9``), answers by LOINC answer code, our answer code
system, or the ``itemWeight``/``ordinalValue`` extension.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from ..errors import IptError, UsageError
from . import Rejection
from .records import (PHASES, RESPONDENTS, check_answer, check_client_id, check_course, import_key, instrument_for,
                      iso_date, iso_datetime, not_utf8, registry, rescore, whole_number)


def _load_json(path: Path) -> dict:
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
    from ..exporters import fhir as f

    totals: dict[str, Any] = {}
    for n, (full_url, resource) in enumerate(entries, start=1):
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
            yield _from_questionnaire_response(f, resource, full_url, where, totals)
        except _Rejected as exc:
            yield exc.problems
        except (AttributeError, TypeError):
            # A field of the wrong JSON type deep inside (a subject that is a string, an answer that is a
            # list...): the response is rejected like any other malformed one, never half-read.
            yield [Rejection(where, "not a valid QuestionnaireResponse: a field has the wrong JSON type")]


def _in_bundle(entries: list) -> bool:
    return not (len(entries) == 1 and entries[0][0] is None)


class _Rejected(Exception):
    def __init__(self, problems: list[Rejection]):
        super().__init__(problems)
        self.problems = problems


def _from_questionnaire_response(f, qr: dict, full_url: Optional[str], where: str, totals: dict) -> dict:
    def reject(reason: str, at: str = where):
        raise _Rejected([Rejection(at, reason)])

    if qr.get("status") not in ("completed", "amended"):
        reject(f"status {qr.get('status')!r}: only completed responses are imported")
    instrument = _questionnaire_instrument(f, qr.get("questionnaire") or "")
    if isinstance(instrument, str):
        reject(instrument)
    client_id = _subject_id(qr.get("subject") or {})
    if not client_id:
        reject("no subject: a Patient reference or an identifier is needed")
    try:
        check_client_id(client_id)
        context = _session_context(f, qr)
    except ValueError as exc:
        reject(str(exc))
    authored = qr.get("authored")
    if authored:
        try:
            iso_datetime(authored, "authored") if "T" in authored else iso_date(authored, "authored")
        except ValueError as exc:
            reject(str(exc))
    item_ids = {item.id for item in instrument.items}
    loinc_items = {item.loinc: item.id for item in instrument.items if item.loinc}
    responses: list[tuple[str, Optional[int], str]] = []
    problems: list[Rejection] = []
    seen: set[str] = set()
    for entry in _flatten(qr.get("item") or []):
        link = str(entry.get("linkId", ""))
        item_id = link if link in item_ids else loinc_items.get(link.lstrip("/"), link)
        at = f"{where} item {link!r}"
        try:
            value, status = _answer_value(f, instrument, item_id, entry)
            check_answer(instrument, item_id, value, status)
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
    stated = _stated_total(f, instrument, qr, full_url, totals)
    try:
        score, alerts = rescore(instrument, responses, stated)
    except (ValueError, IptError) as exc:
        reject(str(exc))
    identifier = qr.get("identifier") or {}
    if isinstance(identifier, list):  # R5 makes it a list
        identifier = identifier[0] if identifier else {}
    origin = identifier.get("value") or full_url or qr.get("id") or json.dumps(qr, sort_keys=True)
    return {
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
        "score": score,
        "alerts": alerts,
    }


def _questionnaire_instrument(f, url: str):
    instruments = registry().instruments
    canonical, _, version = url.partition("|")
    name = canonical.rstrip("/").rsplit("/", 1)[-1]
    if canonical.startswith(f.QUESTIONNAIRE) or canonical.startswith("Questionnaire/"):
        try:
            return instrument_for(name, version or None)
        except ValueError as exc:
            return str(exc)
    # A LOINC-coded questionnaire (e.g. .../44249-1): the instrument whose verified panel code it is.
    for instrument in instruments.values():
        if instrument.loinc and name == instrument.loinc:
            return instrument
    return f"questionnaire {url!r} is not a registered instrument (expected {f.QUESTIONNAIRE}<instrument>|<version>)"


def _subject_id(subject: dict) -> Optional[str]:
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    ref = subject.get("reference") or ""
    if ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


def _session_context(f, qr: dict) -> dict:
    ext = next((e for e in qr.get("extension") or [] if e.get("url") == f.SESSION_EXTENSION), None)
    if ext is None:
        raise ValueError(f"no {f.SESSION_EXTENSION} extension: the IPT course and session are unknown")
    parts: dict[str, list[Any]] = {}
    for sub in ext.get("extension") or []:
        value = next((v for k, v in sub.items() if k.startswith("value")), None)
        parts.setdefault(sub.get("url"), []).append(value)

    def one(name: str, required: bool = True):
        values = parts.get(name) or []
        if not values and required:
            raise ValueError(f"the ipt-session extension lacks {name}")
        return values[0] if values else None

    planned, areas = check_course(one("plannedSessions"), [str(a) for a in parts.get("problemArea") or []])
    number = whole_number(one("sessionNumber"), "sessionNumber")
    if number < 1:
        raise ValueError("session numbers start at 1")
    phase = one("phase")
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
    respondent = one("respondent", required=False)
    if respondent is not None and respondent not in RESPONDENTS:
        raise ValueError(f"respondent {respondent!r} is not one of {', '.join(RESPONDENTS)}")
    course = {"start_date": iso_date(one("courseStart"), "courseStart"), "planned_sessions": planned,
              "problem_areas": areas, "protocol": one("protocol", required=False)}
    if one("courseEnd", required=False):
        course["end_date"] = iso_date(one("courseEnd"), "courseEnd")
    return {
        "course": course,
        "session": {"number": number, "date": iso_date(one("sessionDate"), "sessionDate"), "phase": phase},
        "respondent": respondent,
    }


def _flatten(items: Iterable[dict]) -> Iterator[dict]:
    for entry in items:
        if not isinstance(entry, dict):
            continue
        if entry.get("item"):  # a group: its questions are what count
            yield from _flatten(entry["item"])
            continue
        yield entry


def _answer_value(f, instrument: Any, item_id: str, entry: dict) -> tuple[Optional[int], str]:
    answers = entry.get("answer") or []
    if not answers:
        reason = next((e.get("valueCode") for e in entry.get("extension") or [] if e.get("url") == f.DATA_ABSENT), None)
        return None, "declined" if reason == "asked-declined" else "skipped"
    if len(answers) > 1:
        raise ValueError(f"item {item_id} has {len(answers)} answers; one is expected")
    answer = answers[0]
    if "valueInteger" in answer:
        return whole_number(answer["valueInteger"], f"item {item_id}: valueInteger"), "answered"
    if "valueDecimal" in answer:
        return whole_number(answer["valueDecimal"], f"item {item_id}: valueDecimal"), "answered"
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        raise ValueError(f"item {item_id}: the answer is not a valueCoding, valueInteger or valueDecimal")
    weight = next((e.get("valueDecimal", e.get("valueInteger")) for e in coding.get("extension") or []
                   if e.get("url") in (f.ITEM_WEIGHT, f.ORDINAL_VALUE)), None)
    from_code = None
    system, code = coding.get("system"), coding.get("code")
    if system == f.LOINC and code:
        try:
            item = instrument.item(item_id)
        except KeyError:
            raise ValueError(f"{instrument.id} has no item {item_id!r}") from None
        matches = [o.value for o in instrument.options_for(item) if o.loinc == code]
        if not matches:
            raise ValueError(f"item {item_id}: LOINC answer {code} is not one of this item's answers")
        from_code = matches[0]
    elif system == f.answer_system(instrument.id) and code is not None:
        from_code = whole_number(code, f"item {item_id}: answer code")
    if weight is not None:
        weight_value = whole_number(weight, f"item {item_id}: itemWeight")
        if from_code is not None and from_code != weight_value:
            raise ValueError(f"item {item_id}: answer code {code} means {from_code} but its itemWeight says {weight_value}")
        return weight_value, "answered"
    if from_code is None:
        raise ValueError(f"item {item_id}: answer coding {system}|{code} gives no value (no itemWeight, unknown code)")
    return from_code, "answered"


def _stated_total(f, instrument: Any, qr: dict, full_url: Optional[str], totals: dict) -> Optional[float]:
    refs = [r for r in (full_url, f"QuestionnaireResponse/{qr.get('id')}" if qr.get("id") else None) if r]
    own = f"{instrument.id}.{instrument.primary.id}"
    for ref in refs:
        for obs in totals.get(ref, []):
            codes = {(c.get("system"), c.get("code")) for c in (obs.get("code") or {}).get("coding") or []}
            if (f.SCORE_SYSTEM, own) in codes or (instrument.primary.loinc and (f.LOINC, instrument.primary.loinc) in codes):
                quantity = obs.get("valueQuantity") or {}
                if quantity.get("value") is not None:
                    return float(quantity["value"])
    return None
