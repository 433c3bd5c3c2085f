"""A FHIR R4 Questionnaire with answer weights (e.g. the LOINC PHQ-9 of LHC-Forms): read as an instrument draft.

Choice items whose every answer option carries a weight (the ``itemWeight`` extension, or its R4-era name
``ordinalValue``, on the option or on its ``valueCoding``) are the scored items; choice items without
weights are recorded, not scored, their options numbered in order. A numeric item that states a score
(read-only, calculated, or named a score or total, e.g. LHC-Forms' ``/44261-6``) marks the total and gives
its code; the total is the sum of the weighted items, the rule such Questionnaires compute (SDC
``calculatedExpression`` is not evaluated: the draft says so). Display items and other types are skipped
and listed. See :mod:`.instrument_file` for what the draft marks TODO.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterator, Optional

from ..errors import UsageError
from .instrument_file import slug

LOINC = "http://loinc.org"
WEIGHTS = ("http://hl7.org/fhir/StructureDefinition/itemWeight", "http://hl7.org/fhir/StructureDefinition/ordinalValue")
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
LOINC_CODE = re.compile(r"^\d{1,7}-\d$")
LOINC_ANSWER = re.compile(r"^LA\d{1,7}-\d$")
SIZE_MAX = 8 << 20  # bytes: a Questionnaire of a few hundred items is well under a megabyte


def read(path: Path, instrument_id: Optional[str] = None) -> dict:
    """The draft (see :mod:`.instrument_file`) of the instrument a Questionnaire file defines."""
    path = Path(path)
    if os.path.getsize(path) > SIZE_MAX:
        raise UsageError(f"{path.name} is larger than {SIZE_MAX >> 20} MB: not a Questionnaire")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{path.name} is not FHIR JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        raise UsageError(f"{path.name} is not a FHIR Questionnaire (resourceType {data.get('resourceType')!r})"
                         if isinstance(data, dict) else f"{path.name} is not a FHIR Questionnaire")
    try:
        return _draft(data, path, instrument_id)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise UsageError(f"{path.name}: not a usable Questionnaire ({exc})") from None


def _draft(q: dict, path: Path, instrument_id: Optional[str]) -> dict:
    title = q.get("title") or q.get("name") or path.stem
    panel = _loinc(q.get("code"))
    items, skipped, totals = [], [], []
    for entry in _questions(q.get("item") or []):
        kind, link = entry.get("type"), entry.get("linkId", "?")
        text = entry.get("text")
        code = _loinc(entry.get("code")) or _code_from_link(link)
        if kind in ("choice", "coding") and entry.get("answerOption"):
            options, weighted = _options(entry["answerOption"], link)
            item = {"id": str(len(items) + 1), "text": text, "loinc": code, "options": options, "scored": weighted}
            if not weighted:
                item["why"] = "its answer options carry no weights in the source"
            items.append(item)
        elif kind in ("decimal", "integer") and _states_a_score(entry):
            totals.append((link, code))
        else:
            skipped.append(f"item {link!r} (type {kind}): only choice items with answer options are scored")
    scored = [i["id"] for i in items if i["scored"]]
    if not scored:
        raise ValueError("no choice item whose answer options carry weights (itemWeight or ordinalValue): "
                         "nothing to score")
    total_code = totals[0][1] if len(totals) == 1 else None
    note = (f"The total is the sum of the weighted items, as the source's score item {totals[0][0]!r} states it; "
            "TODO: check against the published scoring rule." if len(totals) == 1 else
            "TODO: the source has no single score item: the total below sums every weighted item; check it "
            "against the published scoring rule.")
    return {"id": instrument_id or slug(q.get("name") if _identifier(q.get("name")) else title),
            "name": title, "version": q.get("version") or "1", "loinc": panel,
            "licence_note": q.get("copyright"), "source": f"the FHIR Questionnaire {path.name}",
            "items": items, "total": {"items": scored, "loinc": total_code, "note": note}, "skipped": skipped}


def _identifier(name: Any) -> bool:
    return isinstance(name, str) and bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", name))


def _questions(items: list) -> Iterator[dict]:
    for entry in items:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "group":
            yield from _questions(entry.get("item") or [])
        elif entry.get("type") != "display":
            yield entry


def _loinc(codes: Any) -> Optional[str]:
    for coding in codes or []:
        code = coding.get("code") if isinstance(coding, dict) else None
        if code and (coding.get("system") == LOINC or (coding.get("system") is None and LOINC_CODE.match(code))):
            return code
    return None


def _code_from_link(link: str) -> Optional[str]:
    last = str(link).rstrip("/").rsplit("/", 1)[-1]
    return last if LOINC_CODE.match(last) else None


def _weight(extensions: Any) -> Optional[int]:
    for ext in extensions or []:
        if isinstance(ext, dict) and ext.get("url") in WEIGHTS:
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, (int, float)) and float(value).is_integer():
                return int(value)
            raise ValueError(f"answer weight {value!r} is not a whole number (ipt scores whole-number answers)")
    return None


def _options(answer_options: list, link: str) -> tuple[list, bool]:
    """[(value, label, loinc)] and whether every option carried a weight (else values are the option order)."""
    found = []
    for n, option in enumerate(answer_options):
        coding = option.get("valueCoding")
        if isinstance(coding, dict):
            label = coding.get("display") or coding.get("code") or f"option {n + 1}"
            code = coding.get("code")
            loinc = code if code and (coding.get("system") == LOINC or LOINC_ANSWER.match(code)) else None
            weight = _weight(option.get("extension"))
            weight = _weight(coding.get("extension")) if weight is None else weight
        else:
            label = str(option.get("valueString", option.get("valueInteger", f"option {n + 1}")))
            loinc, weight = None, _weight(option.get("extension"))
        found.append((weight, label, loinc))
    weighted = all(w is not None for w, _, _ in found)
    if weighted:
        values = [w for w, _, _ in found]
        if len(set(values)) != len(values):
            raise ValueError(f"item {link!r}: two answer options have the same weight")
        return found, True
    return [(n, label, loinc) for n, (_, label, loinc) in enumerate(found)], False


def _states_a_score(entry: dict) -> bool:
    if entry.get("readOnly") or any(isinstance(e, dict) and e.get("url") == CALCULATED for e in entry.get("extension") or []):
        return True
    words = " ".join(str(c.get("display", "")) for c in entry.get("code") or [] if isinstance(c, dict))
    return bool(re.search(r"\b(score|total)\b", f"{entry.get('text', '')} {words}", re.IGNORECASE))
