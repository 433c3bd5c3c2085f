"""Built-in export formats, registered as plugins through the exporters hook; and the ``export`` function.

Every writer is called as ``writer(rows, out, **options)``. ``rows`` is an iterator of export records,
one per completed administration, in client, course, session order; ``out`` is a text stream. A writer
must stream: write as it reads, never hold every row. Each record is a dict::

    {"client": {"id": "c001"},            # + "display_name", "birth_year" only when asked for
     "course": {"start_date": "2026-01-05", "planned_sessions": 16, "problem_areas": ["grief"],
                "protocol": "ipt-default", "end_date": None, "end_reason": None},
     "session": {"number": 1, "date": "2026-01-05", "phase": "initial"},
     "administration": {"id": 17, "instrument_id": "phq9", "instrument_version": "1",
                        "respondent": "self-report", "status": "complete", "source": "interactive",
                        "started_at": "...", "finished_at": "..."},
     "responses": [{"item_id": "1", "value": 2, "status": "answered"}, ...],   # in the instrument's order
     "score": {...},                      # Score.model_dump(mode="json"): total, subscales, flags, scorer
     "deidentified": False}

De-identified records carry a pseudonym as client id, an opaque administration id, no names, birth
years or end reasons, and (when asked) shifted dates; see :mod:`ipt_measures.deidentify`.

A CSV writer passes every cell through :func:`ipt_measures.exporters.cells.cell` (numbers stay numbers,
booleans are ``true``/``false``, text that a spreadsheet would run as a formula gets a leading ``'``).

Options passed to every writer: ``items`` (bool: one row per item response where the format has rows),
``instruments`` (the instrument ids present in the export, sorted: a wide layout's columns),
``deidentified`` (bool), and the FHIR options ``bundle_type`` (``collection`` or ``transaction``) and
``with_definitions`` (bool). Writers should accept ``**options`` and ignore what they do not use.

Top-level imports are the standard library only: this module is a plugin, loaded for ``ipt --help``.
"""

from __future__ import annotations

import inspect
from typing import IO, Any, Iterable, Iterator, Optional

from ..hookspecs import hookimpl

UTF8_BOM = "\ufeff"

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


def _reads_responses(writer: Any, options: dict[str, Any]) -> bool:
    reads = getattr(writer, "reads_responses", None)
    return True if reads is None else bool(reads(options))


@hookimpl
def register_exporters(register):
    """The built-in formats: csv-long, csv-wide, json and fhir."""
    for name, (module, attr, description, suffix) in BUILTIN_FORMATS.items():
        register(name, _lazy_writer(module, attr), description=description, suffix=suffix)


def available_formats() -> dict[str, Any]:
    """Every registered export format (built-in and from plugins), by name."""
    from ..plugins import get_registry

    return dict(get_registry().exporters)


def export(
    store: Any,
    fmt: str,
    out: IO[str],
    client_ids: Optional[Iterable[str]] = None,
    items: bool = False,
    deidentify: Any = None,
    include_identifiers: bool = False,
    excel: bool = False,
    bundle_type: str = "collection",
    with_definitions: bool = False,
) -> int:
    """Write every completed administration of ``client_ids`` (None: the whole caseload) to ``out``.

    :param store: an open record store.
    :param fmt: a registered format name (``csv-long``, ``csv-wide``, ``json``, ``fhir`` or a plugin's).
    :param out: a text stream (open files with ``newline=""`` for CSV).
    :param client_ids: clients to export; an unknown id is an error before anything is written.
    :param items: one row per item response instead of per score (row formats).
    :param deidentify: a :class:`~ipt_measures.deidentify.Deidentifier`, or None.
    :param include_identifiers: add display names and birth years (refused with ``deidentify``).
    :param excel: start a CSV format with a UTF-8 byte-order mark, which Excel needs to read the file as
        UTF-8 rather than the system code page (refused for formats that are not CSV).
    :param bundle_type: FHIR: ``collection`` (a file) or ``transaction`` (a Bundle a server runs).
    :param with_definitions: FHIR: put the Questionnaires, CodeSystems and StructureDefinitions the
        resources point to in the Bundle.
    :returns: the number of administrations written.
    """
    from ..errors import UsageError
    from .rows import instrument_ids, iter_records

    formats = available_formats()
    if fmt not in formats:
        raise UsageError(f"unknown export format {fmt!r} (available: {', '.join(sorted(formats))})")
    if deidentify is not None and include_identifiers:
        raise UsageError("a de-identified export cannot include names or birth years")
    if excel and formats[fmt].suffix != ".csv":
        raise UsageError(f"--excel is for CSV formats; {fmt} is not one")
    ids = None if client_ids is None else list(dict.fromkeys(client_ids))
    if ids is not None:
        for client_id in ids:
            store.get_client(client_id)  # NotFound names the unknown id before a byte is written
    writer = formats[fmt].writer
    fhir_options = {"bundle_type": bundle_type, "with_definitions": with_definitions}
    if getattr(writer, "builtin", False) and fmt != "fhir" and (bundle_type != "collection" or with_definitions):
        raise UsageError(f"--bundle-type and --with-definitions are for the fhir format, not {fmt}")
    options = {
        "items": items,
        "instruments": instrument_ids(store, ids),
        "deidentified": deidentify is not None,
        **fhir_options,
    }
    extras = getattr(writer, "reads_extras", frozenset())
    if excel:
        out.write(UTF8_BOM)
    counter = _Counter(iter_records(store, ids, include_identifiers=include_identifiers, deidentify=deidentify,
                                    responses=_reads_responses(writer, options),
                                    amendments="amendments" in extras, alerts="alerts" in extras))
    writer(counter, out, **_accepted(writer, options))
    return counter.count


def _accepted(writer: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Pass a third-party writer only the options it declares (all of them if it takes ``**options``)."""
    try:
        params = inspect.signature(writer).parameters.values()
    except (TypeError, ValueError):
        return options
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return options
    names = {p.name for p in params}
    return {k: v for k, v in options.items() if k in names}


class _Counter:
    """Counts records as the writer pulls them, without holding them."""

    def __init__(self, rows: Iterator[dict]):
        self._rows = rows
        self.count = 0

    def __iter__(self) -> "_Counter":
        return self

    def __next__(self) -> dict:
        record = next(self._rows)
        self.count += 1
        return record
