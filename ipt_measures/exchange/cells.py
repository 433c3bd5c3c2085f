"""One rule for every CSV cell the project writes and reads: numbers stay numbers, text never starts a formula.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some with a leading tab or
carriage return) as a formula, so a client id or a plugin's label such as ``=HYPERLINK(...)`` would run
when a clinic opens the export. The OWASP rule (OWASP, "CSV Injection"; CWE-1236) is applied to every
text cell: one that starts with one of these characters gets a single quote in front, which a
spreadsheet shows as text and does not evaluate. Text that itself starts with a single quote gets one
more, so the rule can be undone exactly: :func:`read_cell` (used by the CSV reader) removes one leading
quote wherever the writer added one, and an export read back gives the text that was stored.

Numbers are left as numbers. A score, a change of ``-5`` or a reversed item's value are Python ints and
floats here, never text, and a spreadsheet reads them as the numbers they are (OWASP: a cell may be left
alone only if it is truly numeric); the test is the value's type, not how its text looks, so text that
merely looks like a number (``-1+cmd|' /C calc'!A0`` does not, ``-5`` as text would) is still quoted.

Rows end with CR LF, as RFC 4180 (section 2) specifies: besides being what Excel and other readers
expect, it makes Python's csv writer quote a field that holds a carriage return, which with a bare LF
line end it writes unquoted, so a stored ``\r`` would split the row in two for any reader.

Booleans are ``true``/``false`` (what pandas, R and SQL loaders read as booleans); None is an empty cell;
a float with no fraction is written as an int (a sum of 8.0 is 8).
"""

from __future__ import annotations

from typing import Any

LINE_END = "\r\n"
"""The row terminator of every CSV writer (RFC 4180)."""

FORMULA_START = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP CSV injection)."""


QUOTED = FORMULA_START | {"'"}
"""First characters after which the writer added a quote (a formula start, or a quote of the text's own)."""


def text_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet evaluates: a single quote in front of a formula start."""
    return "'" + text if text[:1] in QUOTED else text


def read_cell(text: str) -> str:
    """A CSV cell as the text that was written: the writer's leading quote removed (see :func:`text_cell`)."""
    return text[1:] if text[:1] == "'" and text[1:2] in QUOTED else text


def cell(value: Any) -> Any:
    """Any exported value as a CSV cell: the one conversion every CSV writer uses."""
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in QUOTED else value
    if kind is int:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return int(value) if value.is_integer() else value
    return text_cell(str(value))
