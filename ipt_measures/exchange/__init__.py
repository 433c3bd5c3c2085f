"""The exchange wing: one module per data format, each reading and writing with one column list.

Built-in export formats (``csv-long``, ``csv-wide``, ``json``, ``fhir``) and import formats are registered
here as a plugin, through the ``register_exporters`` and ``register_importers`` hooks, exactly as a
third-party format would be. ``ipt_measures.exchange.exporting.export`` streams records to a writer
(the record layout and writer options are documented there). Import formats: ``csv`` (:mod:`.csv_long`, the ``csv-long --items`` layout) and ``fhir``
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


BUILTIN_FORMATS = {
    # name: (module, writer, description, suffix)
    "csv-long": ("csv_long", "write", "CSV, one row per score (with --items: per item response)", ".csv"),
    "csv-wide": ("csv_wide", "write", "CSV, one row per client x session, a column per instrument score", ".csv"),
    "json": ("jsonout", "write", "JSON: every administration with its answers and score", ".json"),
    "fhir": ("fhir", "write", "FHIR R4 Bundle: Patient, QuestionnaireResponse, total-score Observation, "
                              "Provenance of amendments, Flag per alert", ".json"),
}

# Whether a built-in format writes the item responses, given the export's options. Records for a format
# that does not get ``"responses": []``, and the responses table is not read at all. A plugin's writer
# has no such mark and always gets every response.
_READS_RESPONSES = {
    "csv_long": lambda options: bool(options.get("items")),  # only with --items
    "csv_wide": lambda options: False,  # scores only
}
# Record keys beyond the documented ones that a built-in format writes: read only for that format.
_READS_EXTRAS = {"fhir": frozenset({"amendments", "alerts"})}


def _lazy_writer(module: str, attr: str):
    """A writer that imports its module on first call, so registering formats costs nothing."""

    def writer(rows, out, **options):
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)(rows, out, **options)

    writer.__name__ = f"{module}.{attr}"
    if module in _READS_RESPONSES:
        writer.reads_responses = _READS_RESPONSES[module]
    writer.reads_extras = _READS_EXTRAS.get(module, frozenset())
    writer.builtin = True
    return writer


@hookimpl
def register_exporters(register):
    """The built-in export formats: csv-long, csv-wide, json and fhir."""
    for name, (module, attr, description, suffix) in BUILTIN_FORMATS.items():
        register(name, _lazy_writer(module, attr), description=description, suffix=suffix)


def available_formats() -> dict:
    """Every registered export format (built-in and from plugins), by name."""
    from ..plugins import get_registry

    return dict(get_registry().exporters)


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
