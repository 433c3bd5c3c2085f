"""JSON: one document holding every administration record, written record by record."""

from __future__ import annotations

import json
from typing import IO, Any, Iterable

FORMAT = "ipt-measures-export"
FORMAT_VERSION = 1


def write(rows: Iterable[dict], out: IO[str], *, deidentified: bool = False, **options: Any) -> None:
    from .. import __version__

    head = {"format": FORMAT, "format_version": FORMAT_VERSION, "generator": f"ipt-measures {__version__}",
            "deidentified": deidentified}
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "administrations": [')
    first = True
    for record in rows:
        out.write("\n" if first else ",\n")
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        first = False
    out.write("\n]}\n")
