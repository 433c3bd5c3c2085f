"""Declarative instruments: TOML (or JSON) files validated against the instrument model.

TOML is the documented format because a definition is written by hand and every number in it needs its
citation beside it: TOML has comments, JSON has none. JSON is accepted too, since the published schema
(``schemas/instrument.schema.json``) is JSON Schema and some tools emit JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .errors import InstrumentDefinitionError

SUFFIXES = (".toml", ".json")


def read_definition(path: Path) -> dict[str, Any]:
    """Parse a definition file (instrument or protocol) into a dict; a syntax error names the file and the line."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise InstrumentDefinitionError(f"{path}: definition files end in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentDefinitionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstrumentDefinitionError(f"{path}: cannot read it ({exc})") from None
    if sys.version_info >= (3, 11):  # imported here: a definition found in the compiled cache is never parsed
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InstrumentDefinitionError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    except RecursionError:
        raise InstrumentDefinitionError(f"{path}: nested too deeply to be an instrument definition") from None
    except ValueError as exc:  # json: an integer of more than 4300 digits, say
        raise InstrumentDefinitionError(f"{path}: not usable {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise InstrumentDefinitionError(f"{path}: the top level must be a table of fields")
    return data


def build_instrument(data: Any, where: str = "definition"):
    """Validate a dict as an Instrument; every problem is reported with its path in the file."""
    from pydantic import ValidationError

    from .models import Instrument

    if isinstance(data, Instrument):
        return data
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc, data)
        summary = f"{where}: {len(problems)} problem{'s' if len(problems) != 1 else ''}: {problems[0]}"
        if len(problems) > 1:
            summary += f" (and {len(problems) - 1} more)"
        raise InstrumentDefinitionError(summary, problems) from None


def load_instrument_file(path: Any):
    path = Path(path)
    return build_instrument(read_definition(path), where=str(path))


def validate_protocol(data: Any):
    """Validate a dict as a measurement Protocol; the first problem is reported with its path."""
    from pydantic import ValidationError

    from .models import Protocol

    if isinstance(data, Protocol):
        return data
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InstrumentDefinitionError(describe_validation_error(exc, data)[0]) from None


def load_protocol_file(path: Any):
    return validate_protocol(read_definition(Path(path)))


def describe_validation_error(exc, data: Any = None) -> list[str]:
    """Turn pydantic's errors into 'path.in.file: message' lines, naming list entries by their id."""
    lines = []
    for err in exc.errors():
        loc = [part for part in err["loc"] if not (isinstance(part, str) and part in _UNION_TAGS)]
        path = _format_loc(loc, data)
        message = err["msg"].removeprefix("Value error, ")
        for part in message.split("\n"):  # cross-checks report several problems, each with its own path
            lines.append(f"{path}: {part}" if path else part)
    return lines


_UNION_TAGS = {"int", "float", "str", "list[int]", "function-after[_one_condition(), CriticalRule]"}


def _format_loc(loc: list, data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            try:
                node = node[part]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label = f"[{part}] (id {node['id']!r})"
            except (IndexError, KeyError, TypeError):
                node = None
            out += label
        else:
            out += f".{part}" if out else str(part)
            try:
                node = node[part]
            except (IndexError, KeyError, TypeError):
                node = None
    return out
