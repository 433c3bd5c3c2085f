"""The exchange wing: one module per data format, each reading (and writing) with one column list.

Built-in import formats are registered here as a plugin through the ``register_importers`` hook, exactly
as a third-party format would be: ``csv`` (:mod:`.csv_long`, the ``csv-long --items`` layout) and ``fhir``
(:mod:`.fhir`, a Bundle or QuestionnaireResponse). ``ipt_measures.exchange.importing.import_file`` checks,
rescores and stores what a reader yields. Instrument definitions come in through :mod:`.questionnaire`
(FHIR R4 Questionnaire) and :mod:`.redcap` (REDCap data dictionary).

A reader is called as ``reader(path, update=None)``. It yields, per administration in file order, either
a record in the shape ``store.bulk_import`` takes (see :mod:`.records`) or a list of :class:`Rejection`
saying where and why the administration cannot be imported; ``update(n)`` (when given) is told each
``n`` bytes of the file it has consumed, for a progress bar. A reader raises ``UsageError`` for a file it
cannot read at all.

Top-level imports are the standard library only: this module is a plugin, loaded for ``ipt --help``.
"""

from __future__ import annotations

from ..hookspecs import hookimpl

BUILTIN_IMPORTERS = {
    # name: (module, reader, description, file suffixes)
    "csv": ("csv_long", "read", "CSV, one row per item response (ipt export --format csv-long --items)",
            (".csv", ".tsv", ".txt")),
    "fhir": ("fhir", "read", "FHIR R4 Bundle or QuestionnaireResponse (ours, or any system's, mapped by LOINC)",
             (".json",)),
}


class Rejection:
    """One administration (or row of it) that cannot be imported: where in the file, and why."""

    __slots__ = ("where", "reason")

    def __init__(self, where: str, reason: str):
        self.where, self.reason = where, reason

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def __repr__(self) -> str:
        return f"Rejection({self.where!r}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rejection) and (self.where, self.reason) == (other.where, other.reason)


def _lazy_reader(module: str, attr: str):
    """A reader that imports its module on first call, so registering formats costs nothing."""

    def reader(path, update=None, **options):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)(path, update, **options)

    reader.__name__ = f"{module}.{attr}"
    return reader


@hookimpl
def register_importers(register):
    """The built-in import formats: csv and fhir."""
    for name, (module, attr, description, suffixes) in BUILTIN_IMPORTERS.items():
        register(name, _lazy_reader(module, attr), description=description, suffixes=suffixes)


def available_importers() -> dict:
    """Every registered import format (built-in and from plugins), by name."""
    from ..plugins import get_registry

    return dict(get_registry().importers)
