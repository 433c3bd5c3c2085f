"""FHIR R4 QuestionnaireResponses (a Bundle of them with their total Observations, or one alone): read for import.

Two kinds of response come in. Our own export carries the IPT course and session in the ``ipt-session``
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

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from ..errors import UsageError
from . import Rejection
from .records import check_context, import_key, iso_date, iso_datetime, not_utf8, registry, whole_number

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
    from ..exporters import fhir as f

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
            yield _from_questionnaire_response(f, resource, full_url, where, totals)
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


def _from_questionnaire_response(f, qr: dict, full_url: Optional[str], where: str, totals: dict) -> dict:
    def reject(reason: str):
        raise _Rejected([Rejection(where, reason)])

    if qr.get("status") not in ("completed", "amended"):
        reject(f"status {qr.get('status')!r}: only completed responses are imported")
    instrument = _questionnaire_instrument(f, qr.get("questionnaire") or "")
    if isinstance(instrument, str):
        reject(instrument)
    client_id = _subject_id(qr.get("subject") or {})
    if not client_id:
        reject("no subject: a Patient reference or an identifier is needed")
    authored = qr.get("authored")
    try:
        if authored is not None:
            iso_datetime(authored, "authored") if "T" in str(authored) else iso_date(authored, "authored")
        context = _session_context(f, qr, authored)
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
            value, status = _answer_value(f, instrument, item_id, entry)
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
    observed = _stated_total(f, instrument, qr, full_url, totals)
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


def _questionnaire_instrument(f, url: Any):
    """The registered instrument a response's ``questionnaire`` names: our canonical, or a LOINC panel code."""
    if not isinstance(url, str):
        return "questionnaire is not a canonical URL"
    instruments = registry().instruments
    canonical, _, version = url.partition("|")
    name = canonical.rstrip("/").rsplit("/", 1)[-1]
    if canonical.startswith(f.QUESTIONNAIRE) or (canonical.startswith("Questionnaire/") and name in instruments):
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
    return (f"questionnaire {url!r} is not a registered instrument (expected {f.QUESTIONNAIRE}<instrument>|<version> "
            f"or a LOINC panel code: {known})")


def _subject_id(subject: dict) -> Optional[str]:
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    ref = subject.get("reference") or ""
    if ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


def _session_context(f, qr: dict, authored: Optional[str]) -> dict:
    ext = next((e for e in qr.get("extension") or [] if e.get("url") == f.SESSION_EXTENSION), None)
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


def _answer_value(f, instrument: Any, item_id: str, entry: dict) -> tuple[Optional[int], str]:
    """The value of one answer, from whichever of its code, ordinal value/weight or number is present; all agree."""
    answers = entry.get("answer") or []
    if not answers:
        reason = next((e.get("valueCode") for e in entry.get("extension") or [] if e.get("url") == f.DATA_ABSENT), None)
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
            if ext.get("url") in (f.ITEM_WEIGHT, f.ORDINAL_VALUE):
                weight = ext.get("valueDecimal", ext.get("valueInteger"))
                found.append((ext["url"].rsplit("/", 1)[-1], whole_number(weight, f"item {item_id}: weight")))
        system, code = coding.get("system"), coding.get("code")
        by_loinc = {o.loinc: o.value for o in instrument.options_for(item) if o.loinc}
        if code is not None and system in (f.LOINC, None) and code in by_loinc:
            found.append((f"LOINC answer {code}", by_loinc[code]))
        elif code is not None and system == f.answer_system(instrument.id):
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
