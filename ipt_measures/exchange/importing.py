"""``ipt import``: check, rescore and store every administration a registered reader yields from a file.

The file is read twice, so memory stays flat however large it is: the first pass checks every
administration, and only if none was rejected does the second pass store the records
(``store.bulk_import``). Each administration carries a stable ``import_key``, so running the same import
again skips what is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from ..errors import UsageError
from . import Rejection, available_importers


class ImportReport:
    """What an import did, or (dry run, or any rejection) would have done."""

    def __init__(self, path: str, format: str, dry_run: bool = False):
        self.path, self.format, self.dry_run = path, format, dry_run
        self.administrations = 0  # accepted administrations found in the file
        self.stored = 0
        self.skipped = 0  # already stored by an earlier import (same import key)
        self.rejected_administrations = 0
        self.rejected: list[Rejection] = []
        self.created: dict[str, int] = {}

    @property
    def ok(self) -> bool:
        return not self.rejected

    def as_dict(self) -> dict:
        return {
            "path": self.path, "format": self.format, "dry_run": self.dry_run,
            "administrations": self.administrations, "stored": self.stored, "skipped": self.skipped,
            "rejected_administrations": self.rejected_administrations,
            "rejected": [{"where": r.where, "reason": r.reason} for r in self.rejected],
            "created": self.created,
        }


def detect_format(path: Path, importers: Optional[dict] = None) -> str:
    """The registered format whose file suffix matches, else a guess from the first bytes."""
    importers = available_importers() if importers is None else importers
    suffix = path.suffix.lower()
    for name, importer in importers.items():
        if suffix in importer.suffixes:
            return name
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        start = handle.read(64).lstrip()
    return "fhir" if start.startswith("{") else "csv"


def import_file(
    store: Any,
    path: Union[str, Path],
    fmt: Optional[str] = None,
    *,
    dry_run: bool = False,
    progress: Optional[Callable[[str, int], Any]] = None,
) -> ImportReport:
    """Check, rescore and (unless ``dry_run`` or anything is rejected) store every administration in a file.

    :param store: an open record store.
    :param path: a long CSV (``csv``), a FHIR Bundle / QuestionnaireResponse in JSON (``fhir``), or a
        format a plugin registers.
    :param fmt: a registered import format; None guesses from the file.
    :param dry_run: check everything, store nothing.
    :param progress: ``progress(stage, total)`` returning a context manager with ``update(n)`` (such as
        ``click.progressbar``); called once per pass with the file size in bytes.
    :returns: an :class:`ImportReport`.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no file at {path}")
    importers = available_importers()
    fmt = fmt or detect_format(path, importers)
    if fmt not in importers:
        raise UsageError(f"unknown import format {fmt!r} (available: {', '.join(sorted(importers))})")
    reader = importers[fmt].reader
    report = ImportReport(str(path), fmt, dry_run=dry_run)

    keys: list[str] = []
    for item in _with_progress(reader, path, progress, "checking"):
        if isinstance(item, dict):
            report.administrations += 1
            keys.append(item["administration"]["import_key"])
            if len(keys) >= 500:
                report.skipped += len(store.stored_import_keys(keys))
                keys = []
        else:
            report.rejected.extend(item)
            report.rejected_administrations += 1
    report.skipped += len(store.stored_import_keys(keys))
    if dry_run or report.rejected:
        return report

    def records() -> Iterator[dict]:
        for item in _with_progress(reader, path, progress, "storing"):
            if not isinstance(item, dict):  # the file changed between the passes
                raise UsageError(f"{path} changed while it was being imported; run the import again")
            yield item

    counts = store.bulk_import(records())
    report.stored, report.skipped = counts["stored"], counts["skipped"]
    report.created = {k: counts[k] for k in ("clients", "courses", "sessions")}
    return report


def _with_progress(reader, path: Path, progress, stage: str) -> Iterator[Any]:
    if progress is None:
        yield from reader(path)
    else:
        with progress(stage, path.stat().st_size) as bar:
            yield from reader(path, bar.update)
