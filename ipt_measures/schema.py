"""Generate the JSON Schemas in schemas/ from the pydantic models; a test regenerates and compares them."""

from __future__ import annotations

import json
from pathlib import Path


def schemas() -> dict[str, dict]:
    from .models import Instrument, Protocol, Score

    out = {}
    for filename, model, title in (
        ("instrument.schema.json", Instrument, "ipt-measures instrument definition"),
        ("protocol.schema.json", Protocol, "ipt-measures measurement protocol"),
        ("score.schema.json", Score, "ipt-measures score"),
    ):
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = title
        out[filename] = schema
    return out


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(out_dir: str | Path, check: bool = False) -> list[str]:
    """Write every schema (or, with check, only compare). Returns the files that were stale."""
    out = Path(out_dir)
    stale = []
    for filename, schema in schemas().items():
        path = out / filename
        text = render(schema)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(filename)
            if not check:
                out.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return stale
