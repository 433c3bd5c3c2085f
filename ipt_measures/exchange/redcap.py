"""A REDCap data dictionary (the standard 18-column CSV export): one form read as an instrument draft.

Fields of the form whose type offers choices (``radio``, ``dropdown``: choices ``0, Never | 1, Sometimes``;
``yesno``; ``truefalse``) are the items, their coded values the answer values. A ``calc`` field whose
calculation is a plain sum of the form's items (``[a]+[b]+[c]`` or ``sum([a],[b],[c])``) is the total;
items outside it are recorded, not scored. Any other calculation is not taken as the total (the draft
says so); text, notes, descriptive and other fields are skipped and listed. See :mod:`.instrument_file`
for what the draft marks TODO. Column names are REDCap's own (data dictionary export, REDCap 6 onwards).
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path
from typing import Optional

from ..errors import UsageError
from .instrument_file import slug

# The standard data dictionary columns, in order; the first six are the ones read.
COLUMNS = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
]
CHOICE_TYPES = ("radio", "dropdown")
FIXED_CHOICES = {"yesno": [(0, "No"), (1, "Yes")], "truefalse": [(0, "False"), (1, "True")]}  # REDCap's own codes
SIZE_MAX = 8 << 20
FIELD = r"\[([A-Za-z0-9_]+)\]"


def read(path: Path, form: str, instrument_id: Optional[str] = None) -> dict:
    """The draft of form ``form`` of a data dictionary file."""
    path = Path(path)
    if path.stat().st_size > SIZE_MAX:
        raise UsageError(f"{path.name} is larger than {SIZE_MAX >> 20} MB: not a REDCap data dictionary")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path.name} is not a CSV data dictionary ({exc})") from None
    if not rows or [c.strip() for c in rows[0][:6]] != COLUMNS[:6]:
        raise UsageError(f"{path.name} is not a REDCap data dictionary: its first columns are not "
                         f"{', '.join(COLUMNS[:6])}")
    fields = [dict(zip(COLUMNS, [c.strip() for c in row])) for row in rows[1:] if any(c.strip() for c in row)]
    forms = list(dict.fromkeys(f["Form Name"] for f in fields))
    mine = [f for f in fields if f["Form Name"] == form]
    if not mine:
        raise UsageError(f"{path.name} has no form {form!r} (forms: {', '.join(forms) or 'none'})")
    items, skipped, calcs = [], [], []
    for field in mine:
        name, kind = field["Variable / Field Name"], field["Field Type"]
        label = _text(field["Field Label"])
        if kind in CHOICE_TYPES or kind in FIXED_CHOICES:
            try:
                options = FIXED_CHOICES.get(kind) or _choices(field["Choices, Calculations, OR Slider Labels"])
            except ValueError as exc:
                raise UsageError(f"{path.name}: field {name}: {exc}") from None
            items.append({"id": name, "text": label, "loinc": None, "scored": True,
                          "options": [(value, text, None) for value, text in options]})
        elif kind == "calc":
            calcs.append((name, field["Choices, Calculations, OR Slider Labels"]))
        else:
            skipped.append(f"field {name!r} (type {kind}): only fields with coded choices are items")
    if not items:
        raise UsageError(f"{path.name}: form {form!r} has no field with coded choices (radio, dropdown, yesno, "
                         "truefalse): nothing to score")
    ids = [i["id"] for i in items]
    sums = [(name, terms) for name, calc in calcs if (terms := _plain_sum(calc)) and set(terms) <= set(ids)]
    for name, calc in calcs:
        if name not in {n for n, _ in sums}:
            skipped.append(f"calc field {name!r} ({calc}): not a plain sum of this form's items, so not the total")
    if len(sums) == 1:
        name, terms = sums[0]
        note = f"The total is the calc field {name!r} of the dictionary: {' + '.join(terms)}."
        for item in items:
            if item["id"] not in terms:
                item["scored"], item["why"] = False, f"not in the total {name!r}"
    else:
        terms = ids
        note = ("TODO: the dictionary has " + ("no calc field that" if not sums else "several calc fields that")
                + " plainly sum this form's items: the total below sums every item; check it against the "
                "published scoring rule.")
    return {"id": instrument_id or slug(form.replace("_", " ")), "name": form.replace("_", " ").strip().title(),
            "version": "1", "loinc": None, "licence_note": None,
            "source": f"form {form!r} of the REDCap data dictionary {path.name}",
            "items": items, "total": {"items": [t for t in ids if t in terms], "loinc": None, "note": note},
            "skipped": skipped}


def _text(label: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", label))).strip() or None


def _choices(text: str) -> list[tuple[int, str]]:
    """``0, Never | 1, Sometimes`` -> [(0, "Never"), (1, "Sometimes")]; the codes must be whole numbers."""
    options = []
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if not sep:
            raise ValueError(f"choice {part.strip()!r} is not 'code, label'")
        code = code.strip()
        if not re.fullmatch(r"-?\d{1,3}", code):
            raise ValueError(f"choice code {code!r} is not a whole number (ipt scores the coded value)")
        options.append((int(code), _text(label) or code))
    if len({v for v, _ in options}) != len(options):
        raise ValueError("two choices have the same code")
    return options


def _plain_sum(calc: str) -> Optional[list[str]]:
    """The fields of a calculation that is only their sum, else None."""
    text = re.sub(r"\s+", "", calc)
    inner = re.fullmatch(r"sum\((.*)\)", text)
    if inner:
        parts = inner.group(1).split(",")
    else:
        parts = text.split("+")
    names = [re.fullmatch(FIELD, p) for p in parts]
    if not parts or not all(names):
        return None
    return [m.group(1) for m in names]
