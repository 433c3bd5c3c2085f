"""``export``: completed administrations streamed from the store as records, handed to a format's writer.

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

A CSV writer passes every cell through :func:`ipt_measures.exchange.cells.cell` (numbers stay numbers,
booleans are ``true``/``false``, text that a spreadsheet would run as a formula gets a leading ``'``).

Options passed to every writer: ``items`` (bool: one row per item response where the format has rows),
``instruments`` (the instrument ids present in the export, sorted: a wide layout's columns),
``deidentified`` (bool), and the FHIR options ``bundle_type`` (``collection`` or ``transaction``) and
``with_definitions`` (bool). Writers should accept ``**options`` and ignore what they do not use.

Memory stays flat however large the record: the store hands administrations over in batches from one
read transaction (``store.export_rows``), and each batch's item responses come from one indexed query.
Only a batch is ever held.
"""

from __future__ import annotations

import inspect
import json
from contextlib import closing
from typing import IO, Any, Iterable, Iterator, Optional

from ..store.base import EXPORT_COLUMNS

BATCH = 500
UTF8_BOM = "\ufeff"

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
    progress: Any = None,
    destination: Optional[str] = None,
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
    :param progress: ``progress(stage, total)`` (see :mod:`ipt_measures.progress`), told of each record written.
    :param destination: where ``out`` leads (a file name), for the audit; None: standard output.
    :returns: the number of administrations written.

    Every export is recorded in the audit once written, as clinical record systems log access:
    who (the login, and any declared name), when, which clients (one row each) or all (one row without a
    client), the format, and whether it was de-identified.
    """
    from ..errors import UsageError
    from ..progress import bar
    from . import available_formats

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
        "instruments": store.export_instrument_ids(ids),
        "deidentified": deidentify is not None,
        **fhir_options,
    }
    how = [fmt + (" (items)" if items else "")]
    if deidentify is not None:
        how.append("de-identified" + (", dates shifted" if getattr(deidentify, "shift_dates", False) else ""))
    else:
        how.append("identified" + (", with names and birth years" if include_identifiers else ""))
    how.append(f"to {destination or 'standard output'}")
    extras = getattr(writer, "reads_extras", frozenset())
    if excel:
        out.write(UTF8_BOM)
    records = iter_records(store, ids, include_identifiers=include_identifiers, deidentify=deidentify,
                           responses=_reads_responses(writer, options),
                           amendments="amendments" in extras, alerts="alerts" in extras)
    # An export that fails part-way closes its cursor here, not when garbage is collected.
    with closing(records), bar(progress, "Exporting", store.export_count(ids) if progress is not None else 0) as shown:
        counter = _Counter(records, shown)
        writer(counter, out, **_accepted(writer, options))
    store.record_access("export", ids, "; ".join(how) + f"; {counter.count} administration(s)", destination=destination)
    return counter.count


def _reads_responses(writer: Any, options: dict[str, Any]) -> bool:
    reads = getattr(writer, "reads_responses", None)
    return True if reads is None else bool(reads(options))


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

    def __init__(self, rows: Iterator[dict], shown: Any = None):
        self._rows = rows
        self._shown = shown
        self.count = 0

    def __iter__(self) -> "_Counter":
        return self

    def __next__(self) -> dict:
        record = next(self._rows)
        self.count += 1
        if self._shown is not None:
            self._shown.update(1)
        return record


def iter_records(
    store: Any,
    client_ids: Optional[list[str]] = None,
    *,
    include_identifiers: bool = False,
    deidentify: Any = None,
    batch: int = BATCH,
    responses: bool = True,
    amendments: bool = False,
    alerts: bool = False,
) -> Iterator[dict]:
    """Yield one export record per completed administration (see this module's docstring).

    With ``responses=False`` (a format that writes no item responses) every record has ``"responses": []``
    and the responses table is not read. With ``amendments`` each record also has ``"amendments"``: the
    corrections made to its answers or its session after it was completed, oldest first (``at``, ``actor``,
    ``field``, ``old``, ``new``, ``reason``); with ``alerts``, ``"alerts"``: the alerts it raised, open and
    acknowledged (the alert store's dicts). A client's alerts raised by no exported administration (a
    course review, an administration left unfinished) go with that client's first record.
    """
    # Ordered by pseudonym when de-identified, not by the original id: rows sorted by original id would let
    # anyone who knows the list of ids match pseudonyms to clients by rank.
    order_key = deidentify.pseudonym if deidentify is not None else None
    item_orders: dict[str, Any] = {**_item_orders(), "": {}}  # "": the permutations met (_in_item_order)
    alert_source = _Alerts(store) if alerts and hasattr(store, "alerts") else None
    with store.export_rows(client_ids, order_key=order_key, batch=batch) as batches:
        for rows in batches:
            answers = store.export_responses([row[_ADMINISTRATION] for row in rows]) if responses else {}
            changes = _amendments(store, rows) if amendments else None
            for row in rows:
                record = _record(row, answers.get(row[_ADMINISTRATION], []), item_orders, include_identifiers)
                if changes is not None:
                    record["amendments"] = changes.get(row[_ADMINISTRATION], [])
                if alert_source is not None:
                    record["alerts"] = alert_source.for_record(row)
                yield deidentify.record(record) if deidentify is not None else record


def _amendments(store: Any, rows: list[tuple]) -> dict[int, list[dict]]:
    """The amendments of a batch's administrations, from the audit (read by client, which is indexed).

    An answer's amendment names its administration (``<administration>/<item>``); a session's (its date or
    phase) counts for every administration of that session completed before it was made."""
    by_admin = {row[_ADMINISTRATION]: row for row in rows}
    by_session: dict[int, list[tuple]] = {}
    for row in rows:
        by_session.setdefault(row[_SESSION], []).append(row)
    result: dict[int, list[dict]] = {}
    for amendment in store.export_amendments(list(dict.fromkeys(row[_CLIENT] for row in rows))):
        entity, entity_id, at = amendment.pop("entity"), amendment.pop("entity_id"), amendment["at"]
        change = amendment
        if entity == "response":
            admin_id = int(str(entity_id).split("/", 1)[0])
            if admin_id in by_admin:
                result.setdefault(admin_id, []).append(change)
        elif entity == "session":
            for row in by_session.get(int(entity_id), []):
                if (row[_FINISHED] or "") <= at:
                    result.setdefault(row[_ADMINISTRATION], []).append(dict(change))
    return result


class _Alerts:
    """Each client's alerts (the alert store's API, open and acknowledged), handed out record by record."""

    def __init__(self, store: Any):
        self.store = store
        self.client: Any = None
        self.pending: dict[Any, list[dict]] = {}

    def for_record(self, row: tuple) -> list[dict]:
        client_id, admin_id = row[_CLIENT], row[_ADMINISTRATION]
        if client_id == self.client:
            return self.pending.pop(admin_id, [])
        self.client = client_id
        self.pending = {}
        alerts = self.store.alerts(client_id, include_acknowledged=True)
        exported = self.store.completed_administration_ids(
            {a["administration_id"] for a in alerts if a.get("administration_id") is not None})
        first: list[dict] = []
        for alert in alerts:
            if alert.get("administration_id") in exported:
                self.pending.setdefault(alert["administration_id"], []).append(alert)
            else:
                first.append(alert)
        return first + self.pending.pop(admin_id, [])


def _item_orders() -> dict[str, dict[str, int]]:
    """Item positions per registered instrument, so answers come out in the questionnaire's order."""
    from ..plugins import get_registry

    return {
        iid: {item.id: n for n, item in enumerate(inst.items)} for iid, inst in get_registry().instruments.items()
    }


_ADMINISTRATION = EXPORT_COLUMNS.index("administration_id")
_CLIENT = EXPORT_COLUMNS.index("client_id")
_SESSION = EXPORT_COLUMNS.index("session_id")
_FINISHED = EXPORT_COLUMNS.index("finished_at")

# Decoded problem-area lists by their JSON text: a caseload has only a handful of distinct ones. Each
# record gets its own copy of the list, so a writer that changes one changes nothing else.
_problem_areas: dict[str, list] = {}


def _decode_problem_areas(text: str) -> list:
    decoded = _problem_areas.get(text)
    if decoded is None:
        decoded = json.loads(text)
        if len(_problem_areas) >= 256:
            _problem_areas.clear()
        _problem_areas[text] = decoded
    return list(decoded)


def _in_item_order(item_orders: dict, instrument_id: str, responses: list[dict]) -> list[dict]:
    """The responses in the questionnaire's order. The permutation is worked out once per (instrument,
    item ids as stored) and kept in ``item_orders["", "permutations"]`` for this export: an export meets
    the same few sequences over and over, usually already in order."""
    permutations = item_orders[""]
    key = (instrument_id, *[r["item_id"] for r in responses])
    permutation = permutations.get(key, False)
    if permutation is False:
        order = item_orders.get(instrument_id) or {}
        ranks = [order.get(item_id, len(order)) for item_id in key[1:]]
        permutation = sorted(range(len(ranks)), key=ranks.__getitem__)
        if permutation == list(range(len(ranks))):
            permutation = None
        if len(permutations) < 4096:
            permutations[key] = permutation
    return responses if permutation is None else [responses[i] for i in permutation]


def _record(row: tuple, responses: list[dict], item_orders: dict, include_identifiers: bool) -> dict:
    (client_id, display_name, birth_year, start_date, planned_sessions, problem_areas, protocol, end_date,
     end_reason, course_type, session_id, session_number, session_date, phase, administration_id, instrument_id, instrument_version,
     respondent, status, source, started_at, finished_at, score_data) = row
    client = {"id": client_id}
    if include_identifiers:
        client["display_name"] = display_name
        client["birth_year"] = birth_year
    if responses:
        responses = _in_item_order(item_orders, instrument_id, responses)
    return {
        "client": client,
        "course": {
            "start_date": start_date,
            "planned_sessions": planned_sessions,
            "problem_areas": _decode_problem_areas(problem_areas),
            "protocol": protocol,
            "end_date": end_date,
            "end_reason": end_reason,
            "course_type": course_type,
        },
        "session": {"number": session_number, "date": session_date, "phase": phase},
        "administration": {
            "id": administration_id,
            "instrument_id": instrument_id,
            "instrument_version": instrument_version,
            "respondent": respondent,
            "status": status,
            "source": source,
            "started_at": started_at,
            "finished_at": finished_at,
        },
        "responses": responses,
        "score": json.loads(score_data) if score_data else None,
        "deidentified": False,
    }
