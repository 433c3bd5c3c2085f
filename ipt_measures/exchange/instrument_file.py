"""A declarative instrument file drafted from another system's definition, with what it lacks marked TODO.

The FHIR Questionnaire and REDCap readers (:mod:`.questionnaire`, :mod:`.redcap`) turn their source into a
neutral draft; :func:`render` writes it as TOML that validates as it stands, and marks in comments every
thing a published instrument needs that the source does not say: citation, licence, construct, bands and
their source, the missing-item rule, critical items. Nothing of these is invented: placeholders are the
strictest reading (no missing item allowed, no bands) and say TODO.

A draft is a dict::

    {"id": "phq-9", "name": "...", "version": "1", "loinc": "44249-1" or None, "licence_note": str or None,
     "source": "the LOINC PHQ-9 Questionnaire (lhc.json)",
     "items": [{"id": "1", "text": "...", "loinc": "44250-9" or None, "scored": True,
                "options": [(value, label, loinc or None), ...]}, ...],
     "total": {"items": ["1", ...], "loinc": "44261-6" or None, "note": "how the total was found"},
     "skipped": ["what was not imported, and why", ...]}
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Optional

TODO = "TODO"


def slug(text: str, limit: int = 40) -> str:
    """An instrument id (lowercase letters, digits, single hyphens) from a name: its abbreviation if it has
    one ("PHQ-9 quick depression assessment panel" -> phq-9, "... 7 item (GAD-7)" -> gad-7)."""
    short = re.search(r"\(([A-Za-z][A-Za-z0-9-]{1,15})\)", text) or re.match(r"([A-Z][A-Z0-9]*-?[A-Z0-9]*\d)\b", text)
    if short:
        text = short.group(1)
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:limit].strip("-") or "imported"
    return out if out[0].isalpha() else "i-" + out


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for DEL, which TOML wants escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _options(options: list) -> str:
    lines = []
    for value, label, loinc in options:
        extra = f", loinc = {_s(loinc)}" if loinc else ""
        lines.append(f"  {{ value = {value}, label = {_s(label)}{extra} }},")
    return "[\n" + "\n".join(lines) + "\n]"


def render(draft: dict) -> str:
    """The draft as a TOML instrument file; see the module docstring."""
    items = draft["items"]
    scored = [i for i in items if i["scored"]]
    lists = [tuple(i["options"]) for i in scored]
    # The answer list most items share is written once; an item whose list differs carries its own.
    shared = list(max(lists, key=lists.count)) if lists and lists.count(max(lists, key=lists.count)) > 1 else None
    total = draft["total"]
    out = [
        f"# Drafted by `ipt instruments import` from {draft['source']} on {date.today().isoformat()}.",
        "# It validates as it stands, but it is NOT ready for clinical use until every TODO below is resolved:",
        "# the source does not say these things, and ipt does not invent them. Every number must cite its source.",
        "# TODO: the item text is the source's: ship it (in a plugin, a repository) only where the licence allows.",
        f"id = {_s(draft['id'])}",
        f"name = {_s(draft['name'])}",
        f"version = {_s(draft.get('version') or '1')}",
        f"citation = {_s('TODO: the original publication')}  # TODO: the source names no publication",
        f"licence = {_s('TODO: licence')}  # TODO: e.g. 'public domain', 'free to reproduce' (see the licence note)",
    ]
    if draft.get("licence_note"):
        out.append(f"licence_note = {_s(draft['licence_note'])}  # as the source states it")
    out += [
        'respondent = "self-report"  # TODO: check: self-report or clinician-rated',
        'domain = "other"  # TODO: depression, anxiety, distress, social-support, interpersonal-functioning, ...',
    ]
    if draft.get("loinc"):
        out.append(f"loinc = {_s(draft['loinc'])}  # the panel code the source gives; TODO: verify it")
    if shared is not None:
        out.append(f"options = {_options(shared)}")
    for item in items:
        out += ["", "[[items]]", f"id = {_s(item['id'])}"]
        if item.get("text"):
            out.append(f"text = {_s(item['text'])}")
        if item.get("loinc"):
            out.append(f"loinc = {_s(item['loinc'])}")
        if not item["scored"]:
            out.append("optional = true  # recorded, not scored: " + item.get("why", "no answer weights in the source"))
        if not item["scored"] or shared is None or tuple(item["options"]) != tuple(shared):
            out.append(f"options = {_options(item['options'])}")
    out += ["", "[[scales]]", 'id = "total"', 'name = "Total"',
            "items = [" + ", ".join(_s(i) for i in total["items"]) + "]", 'method = "sum"']
    low = sum(min(o[0] for o in i["options"]) for i in scored if i["id"] in total["items"])
    high = sum(max(o[0] for o in i["options"]) for i in scored if i["id"] in total["items"])
    out.append(f"range = [{low}, {high}]")
    if total.get("loinc"):
        out.append(f"loinc = {_s(total['loinc'])}  # the total-score code the source gives; TODO: verify it")
    out += [f"# {total['note']}",
            "# TODO: bands: add `bands = [{ min = ..., max = ..., label = \"...\", severity = 0 }, ...]` and",
            "# `bands_source` (the publication of the cut-offs). None are given by the source.",
            "# TODO: change parameters ([scales.change]: direction, reliability or a published reliable-change",
            "# threshold, clinical cut-off), each with its source, if the instrument is used to follow change.",
            "", "[scales.missing]",
            "max_missing = 0  # TODO: the published missing-item rule (until then, a form with an item missing is not scored)",
            f"source = {_s('TODO: where the missing-item rule is published')}",
            "",
            "# TODO: critical items, if the instrument has any (e.g. a suicidality item): a [[critical]] table with",
            "# item, at_least, kind, message and source for each."]
    for note in draft.get("skipped") or []:
        out.append(f"# Not imported: {note}")
    return "\n".join(out) + "\n"


def check(text: str, where: str) -> Any:
    """Validate rendered TOML as an instrument (the same checks as ``ipt instruments validate``)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from ..declarative import build_instrument

    return build_instrument(tomllib.loads(text), where=where)


def import_instrument(path: Any, *, redcap_form: Optional[str] = None, instrument_id: Optional[str] = None) -> tuple[str, Any]:
    """Draft a declarative instrument file from a FHIR Questionnaire (JSON) or, with ``redcap_form``, a form
    of a REDCap data dictionary (CSV). Returns the TOML text and the instrument it validates as.

    :raises UsageError: for a file that is not such a definition, or an ``instrument_id`` that is not an id.
    """
    from ..errors import InstrumentDefinitionError, UsageError

    if instrument_id is not None and not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", instrument_id):
        raise UsageError(f"instrument id {instrument_id!r}: lowercase letters and digits, words joined by '-'")
    if redcap_form is not None:
        from .redcap import read

        draft = read(path, redcap_form, instrument_id)
    else:
        from .questionnaire import read

        draft = read(path, instrument_id)
    text = render(draft)
    try:
        return text, check(text, str(path))
    except InstrumentDefinitionError as exc:  # a source whose answers the model refuses (a value of 1000...)
        raise UsageError(f"{path}: the drafted instrument does not validate: {exc}") from None
