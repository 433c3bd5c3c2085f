"""Import scores collected elsewhere: the long CSV layout (``ipt export --format csv-long --items``) or FHIR
QuestionnaireResponses, checked item by item against the registered instrument and rescored.

Nothing is trusted as given: every answer must be one the instrument allows, and every administration is
scored again with the registry (the plugin's override or the generic scorer). A stated total that
disagrees with the rescored one is reported, not stored. The file is read twice, so memory stays flat
however large it is: the first pass checks every row, and only if no row was rejected does the second
pass store the records (``store.bulk_import``). Either everything in the file is stored or nothing is.
Each administration gets a stable ``import_key``, so running the same import again skips what is stored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .errors import IptError, UsageError
from .store.sqlite import PHASES, PROBLEM_AREAS

STATUSES = ("answered", "skipped", "declined")
RESPONDENTS = ("self-report", "clinician-rated")

# The columns an importable long CSV must have; the rest of the export's columns are optional.
REQUIRED_COLUMNS = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date",
                    "phase", "instrument", "item", "value"]


@dataclass
class Rejection:
    """One rejected row (CSV: line number(s); FHIR: entry number) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or (dry run, or any rejection) would have done."""

    path: str
    format: str
    administrations: int = 0  # accepted administrations found in the file
    stored: int = 0
    skipped: int = 0  # already stored by an earlier import (same import key)
    rejected_administrations: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    created: dict[str, int] = field(default_factory=dict)

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


Parsed = Union[dict, list]  # a record, or the rejections (a list of Rejection) of one administration


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix == ".json":
        return "fhir"
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
    :param path: a long CSV (``csv``) or a FHIR Bundle / QuestionnaireResponse in JSON (``fhir``).
    :param fmt: ``csv`` or ``fhir``; None guesses from the file.
    :param dry_run: check everything, store nothing.
    :param progress: ``progress(stage, total)`` returning a context manager with ``update(n)`` (such as
        ``click.progressbar``); called once per pass with the file size in bytes (CSV) or entries (FHIR).
    :returns: an :class:`ImportReport`.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no file at {path}")
    fmt = fmt or detect_format(path)
    if fmt not in ("csv", "fhir"):
        raise UsageError(f"unknown import format {fmt!r} (available: csv, fhir)")
    parse = parse_csv if fmt == "csv" else parse_fhir
    report = ImportReport(str(path), fmt, dry_run=dry_run)

    keys: list[str] = []
    for item in _with_progress(parse, path, progress, "checking"):
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
        for item in _with_progress(parse, path, progress, "storing"):
            if not isinstance(item, dict):  # the file changed between the passes
                raise UsageError(f"{path} changed while it was being imported; run the import again")
            yield item

    counts = store.bulk_import(records())
    report.stored, report.skipped = counts["stored"], counts["skipped"]
    report.created = {k: counts[k] for k in ("clients", "courses", "sessions")}
    return report


def _with_progress(parse, path: Path, progress, stage: str) -> Iterator[Parsed]:
    if progress is None:
        yield from parse(path)
    elif parse is parse_csv:
        with progress(stage, path.stat().st_size) as bar:
            yield from parse_csv(path, bar.update)
    else:  # the bar counts entries: the Bundle is read once for its length and its responses
        entries = _entries(_load_json(path), path)
        with progress(stage, len(entries)) as bar:
            yield from _parse_entries(entries, bar.update)


# -- shared checks ----------------------------------------------------------------------------------


def _registry():
    from .plugins import get_registry

    return get_registry()


def _iso_date(value: str, what: str) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except (ValueError, AttributeError):
        raise ValueError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _iso_datetime(value: str, what: str) -> str:
    text = value.strip()
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO date-time") from None
    return text


def _int(value: Any, what: str) -> int:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a whole number") from None
    if not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a whole number")
    return int(number)


def _check_client_id(client_id: str) -> str:
    if not client_id or len(client_id) > 64 or any(c.isspace() for c in client_id):
        raise ValueError(f"client id {client_id!r} is not 1-64 characters without spaces")
    return client_id


def _check_course(planned: Any, areas: list[str]) -> tuple[int, list[str]]:
    planned_n = _int(planned, "planned_sessions")
    if not 12 <= planned_n <= 16:
        raise ValueError(f"planned_sessions {planned_n} is outside 12-16 (an IPT course)")
    if not areas:
        raise ValueError("no problem area (one or more of: " + ", ".join(PROBLEM_AREAS) + ")")
    bad = [a for a in areas if a not in PROBLEM_AREAS]
    if bad:
        raise ValueError(f"unknown problem area {bad[0]!r} (one of: {', '.join(PROBLEM_AREAS)})")
    return planned_n, areas


def _check_answer(instrument: Any, item_id: str, value: Optional[int], status: str) -> None:
    try:
        item = instrument.item(item_id)
    except KeyError:
        raise ValueError(f"{instrument.id} has no item {item_id!r}") from None
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if (status == "answered") != (value is not None):
        raise ValueError(f"item {item_id}: an answered item needs a value; a {status} item has none"
                         if status != "answered" else f"item {item_id}: answered but no value")
    if value is not None:
        allowed = sorted(o.value for o in instrument.options_for(item))
        if value not in allowed:
            raise ValueError(f"{instrument.id} item {item_id}: {value} is not an allowed answer "
                             f"(allowed: {', '.join(map(str, allowed))})")


def _rescore(instrument: Any, responses: list[tuple[str, Optional[int], str]], stated_total: Optional[float]) -> dict:
    """Score the answers with the registry; a stated total that disagrees is an error, never overwritten."""
    answers = {item_id: value for item_id, value, _ in responses}
    score = _registry().score(instrument.id, answers)
    if stated_total is not None:
        computed = score.total.value
        if computed is None or not math.isclose(float(computed), stated_total, abs_tol=1e-9):
            shown = "not scorable (too many missing answers)" if computed is None else f"{computed:g}"
            raise ValueError(
                f"stated total {stated_total:g} but the answers score {shown} with {instrument.id} "
                f"version {instrument.version}; not stored"
            )
    return score.model_dump(mode="json")


def _import_key(kind: str, *parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def _instrument_for(instrument_id: str, version: Optional[str]):
    registry = _registry()
    instrument = registry.instruments.get(instrument_id)
    if instrument is None:
        raise ValueError(f"unknown instrument {instrument_id!r} (registered: {', '.join(sorted(registry.instruments))})")
    if version and version != instrument.version:
        raise ValueError(f"{instrument_id} version {version!r} is not the registered version {instrument.version!r}; "
                         "its scoring rules may differ")
    return instrument


# -- CSV (the long export layout, one row per item response) ------------------------------------------


def _lines(path: Path, update: Optional[Callable[[int], Any]]) -> Iterator[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line in handle:
            if update is not None:
                update(len(line.encode("utf-8")))
            yield line


def _unreadable(path: Path, reader: Any, exc: Exception) -> UsageError:
    """One line for a file the csv module cannot read: not UTF-8, a huge field, a stray NUL..."""
    if isinstance(exc, UnicodeDecodeError):
        return UsageError(f"{path.name} is not UTF-8 text (line {_first_bad_line(path)}): import takes a CSV "
                          "or FHIR JSON file saved as UTF-8")
    line = getattr(reader, "reader", reader).line_num or 1  # DictReader.line_num lags until a row is returned
    if "field larger than field limit" in str(exc):
        return UsageError(f"{path.name} line {line}: a field is longer than {csv.field_size_limit()} characters; "
                          "this is not an ipt CSV")
    return UsageError(f"{path.name} line {line}: not readable as CSV ({exc})")


def _first_bad_line(path: Path) -> int:
    """The line holding the first byte that is not UTF-8 (the text reader decodes ahead, in blocks)."""
    number = 1
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return number


def _rows(path: Path, reader: Any) -> Iterator[dict]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _unreadable(path, reader, exc) from None
        yield row


def parse_csv(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Parsed]:
    """Yield one record or list of rejections per administration, in file order."""
    reader = csv.DictReader(_lines(path, update))
    try:
        header = reader.fieldnames or []
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _unreadable(path, reader, exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}: import takes the long CSV with one row per "
            "item response (ipt export --format csv-long --items)"
        )
    seen: set[str] = set()
    group: Optional[_Group] = None
    for row in _rows(path, reader):
        line = reader.line_num
        group_id = "\x1f".join(
            (row.get(c) or "").strip() for c in ("client_id", "course_start", "session", "instrument", "administration")
        )
        if group is None or group_id != group.id:
            if group is not None:
                yield group.finish()
            if group_id in seen:
                group = _Group(group_id, line)
                group.problems.append(Rejection(
                    f"line {line}", "rows of this administration are not together: an earlier run of rows "
                    "had the same client, course, session, instrument and administration"))
            else:
                group = _Group(group_id, line)
            seen.add(group_id)
        group.add(row, line)
    if group is not None:
        yield group.finish()


class _Group:
    """The rows of one administration in a long CSV."""

    SHARED = ("planned_sessions", "problem_areas", "session_date", "phase", "instrument_version", "respondent",
              "completed_at", "total", "protocol", "display_name", "birth_year")

    def __init__(self, group_id: str, first_line: int):
        self.id = group_id
        self.first = first_line
        self.last = first_line
        self.head: Optional[dict] = None
        self.head_line = first_line
        self.instrument: Any = None
        self.context: dict = {}  # the head row's client, course and session fields, checked and parsed once
        self.responses: list[tuple[str, Optional[int], str]] = []
        self.items: set[str] = set()
        self.problems: list[Rejection] = []
        self.context_error = False

    def add(self, row: dict, line: int) -> None:
        self.last = line
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if self.head is None:
            self.head, self.head_line = row, line
            try:
                self.instrument = _instrument_for(row["instrument"], row.get("instrument_version") or None)
                self.context = self._check_head(row)
            except ValueError as exc:
                self.problems.append(Rejection(f"line {line}", str(exc)))
                self.context_error = True
        elif not self.context_error:  # a bad first row is reported once, not echoed by every row after it
            for name in self.SHARED:
                if (row.get(name) or "") != (self.head.get(name) or ""):
                    self.problems.append(Rejection(
                        f"line {line}", f"{name} {row.get(name)!r} differs from line {self.head_line} "
                        f"({self.head.get(name)!r}) of the same administration"))
                    return
        if self.instrument is None:
            return
        item_id = row.get("item", "")
        try:
            value = _int(row["value"], f"item {item_id}: value") if row.get("value") else None
            status = row.get("status") or ("answered" if value is not None else "skipped")
            _check_answer(self.instrument, item_id, value, status)
            if item_id in self.items:
                raise ValueError(f"item {item_id} appears twice in the same administration")
        except ValueError as exc:
            self.problems.append(Rejection(f"line {line}", str(exc)))
            return
        self.items.add(item_id)
        self.responses.append((item_id, value, status))

    def _check_head(self, row: dict) -> dict:
        """Check the fields every row of the administration repeats; returns them parsed for the record."""
        _check_client_id(row["client_id"])
        start = _iso_date(row["course_start"], "course_start")
        planned, areas = _check_course(row["planned_sessions"], [a for a in row["problem_areas"].split(";") if a])
        number = _int(row["session"], "session")
        if number < 1:
            raise ValueError("session numbers start at 1")
        _iso_date(row["session_date"], "session_date")
        if row["phase"] not in PHASES:
            raise ValueError(f"phase {row['phase']!r} is not one of {', '.join(PHASES)}")
        if row.get("respondent") and row["respondent"] not in RESPONDENTS:
            raise ValueError(f"respondent {row['respondent']!r} is not one of {', '.join(RESPONDENTS)}")
        if row.get("completed_at"):
            _iso_datetime(row["completed_at"], "completed_at")
        total = _number(row["total"], "total") if row.get("total") else None
        year = None
        if row.get("birth_year"):
            year = _int(row["birth_year"], "birth_year")
            if not 1900 <= year <= 2100:
                raise ValueError(f"birth_year {year} is outside 1900-2100")
        return {
            "birth_year": year,
            "course": {"start_date": start, "planned_sessions": planned, "problem_areas": areas,
                       "protocol": row.get("protocol") or None},
            "session": {"number": number, "date": row["session_date"], "phase": row["phase"]},
            "total": total,
        }

    def where(self) -> str:
        return f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"

    def finish(self) -> Parsed:
        if self.problems:
            return self.problems
        row, instrument = self.head, self.instrument
        if not self.responses:
            return [Rejection(self.where(), "no item responses")]
        context = self.context
        try:
            score = _rescore(instrument, self.responses, context["total"])
        except (ValueError, IptError) as exc:
            return [Rejection(self.where(), str(exc))]
        completed = row.get("completed_at") or None
        return {
            "client_id": row["client_id"],
            "display_name": row.get("display_name") or None,
            "birth_year": context["birth_year"],
            "course": context["course"],
            "session": context["session"],
            "administration": {
                "instrument_id": instrument.id,
                "instrument_version": instrument.version,
                "respondent": row.get("respondent") or instrument.respondent,
                "source": "import",
                "started_at": completed,
                "finished_at": completed,
                "import_key": _import_key("csv", *self.id.split("\x1f")),
            },
            "responses": self.responses,
            "score": score,
        }


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a number")
    return value


# -- FHIR (a Bundle of QuestionnaireResponses and their Observations, or one QuestionnaireResponse) ----


def _load_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path.name} is not JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path.name} is not UTF-8 text (line {_first_bad_line(path)}): import takes a CSV "
                         "or FHIR JSON file saved as UTF-8") from None
    except RecursionError:
        raise UsageError(f"{path.name} is nested too deeply to be a FHIR resource") from None
    except ValueError as exc:  # a number of more than 4300 digits, say
        raise UsageError(f"{path.name} is not usable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("resourceType") not in ("Bundle", "QuestionnaireResponse"):
        raise UsageError(f"{path.name} is neither a FHIR Bundle nor a QuestionnaireResponse")
    return data


def _entries(data: dict, path: Path) -> list[tuple[Optional[str], dict]]:
    """The Bundle's (fullUrl, resource) pairs; a file whose structure is not a Bundle's is refused whole."""
    if data["resourceType"] == "QuestionnaireResponse":
        return [(None, data)]
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise UsageError(f"{path.name}: the Bundle's entry is not a list")
    pairs = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise UsageError(f"{path.name}: entry {n} is not a JSON object")
        resource = entry.get("resource") or {}
        if not isinstance(resource, dict):
            raise UsageError(f"{path.name}: entry {n}: the resource is not a JSON object")
        full_url = entry.get("fullUrl")
        pairs.append((full_url if isinstance(full_url, str) else None, resource))
    return pairs


def parse_fhir(path: Path, update: Optional[Callable[[int], Any]] = None) -> Iterator[Parsed]:
    """Yield one record or list of rejections per QuestionnaireResponse in the file.

    A whole Bundle is read into memory (JSON has no streaming reader in the standard library); the long
    CSV is the format for very large transfers.
    """
    yield from _parse_entries(_entries(_load_json(path), path), update)


def _parse_entries(entries: list[tuple[Optional[str], dict]], update: Optional[Callable[[int], Any]]) -> Iterator[Parsed]:
    from .exporters import fhir as f

    totals: dict[str, Any] = {}
    for n, (full_url, resource) in enumerate(entries, start=1):
        if resource.get("resourceType") == "Observation":
            refs = resource.get("derivedFrom") or []
            for ref in refs if isinstance(refs, list) else []:
                if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                    totals.setdefault(ref["reference"], []).append(resource)
    for n, (full_url, resource) in enumerate(entries, start=1):
        if update is not None:
            update(1)
        if resource.get("resourceType") != "QuestionnaireResponse":
            continue
        where = f"entry {n}" if _in_bundle(entries) else "QuestionnaireResponse"
        try:
            yield _from_questionnaire_response(f, resource, full_url, where, totals)
        except _Rejected as exc:
            yield exc.problems
        except (AttributeError, TypeError):
            # A field of the wrong JSON type deep inside (a subject that is a string, an answer that is a
            # list...): the response is rejected like any other malformed one, never half-read.
            yield [Rejection(where, "not a valid QuestionnaireResponse: a field has the wrong JSON type")]


def _in_bundle(entries: list) -> bool:
    return not (len(entries) == 1 and entries[0][0] is None)


class _Rejected(Exception):
    def __init__(self, problems: list[Rejection]):
        super().__init__(problems)
        self.problems = problems


def _from_questionnaire_response(f, qr: dict, full_url: Optional[str], where: str, totals: dict) -> dict:
    def reject(reason: str, at: str = where):
        raise _Rejected([Rejection(at, reason)])

    if qr.get("status") not in ("completed", "amended"):
        reject(f"status {qr.get('status')!r}: only completed responses are imported")
    instrument = _questionnaire_instrument(f, qr.get("questionnaire") or "")
    if isinstance(instrument, str):
        reject(instrument)
    client_id = _subject_id(qr.get("subject") or {})
    if not client_id:
        reject("no subject: a Patient reference or an identifier is needed")
    try:
        _check_client_id(client_id)
        context = _session_context(f, qr)
    except ValueError as exc:
        reject(str(exc))
    authored = qr.get("authored")
    if authored:
        try:
            _iso_datetime(authored, "authored") if "T" in authored else _iso_date(authored, "authored")
        except ValueError as exc:
            reject(str(exc))
    item_ids = {item.id for item in instrument.items}
    loinc_items = {item.loinc: item.id for item in instrument.items if item.loinc}
    responses: list[tuple[str, Optional[int], str]] = []
    problems: list[Rejection] = []
    seen: set[str] = set()
    for entry in _flatten(qr.get("item") or []):
        link = str(entry.get("linkId", ""))
        item_id = link if link in item_ids else loinc_items.get(link.lstrip("/"), link)
        at = f"{where} item {link!r}"
        try:
            value, status = _answer_value(f, instrument, item_id, entry)
            _check_answer(instrument, item_id, value, status)
            if item_id in seen:
                raise ValueError(f"item {item_id} appears twice")
        except ValueError as exc:
            problems.append(Rejection(at, str(exc)))
            continue
        seen.add(item_id)
        responses.append((item_id, value, status))
    if problems:
        raise _Rejected(problems)
    if not responses:
        reject("no item answers")
    stated = _stated_total(f, instrument, qr, full_url, totals)
    try:
        score = _rescore(instrument, responses, stated)
    except (ValueError, IptError) as exc:
        reject(str(exc))
    identifier = qr.get("identifier") or {}
    if isinstance(identifier, list):  # R5 makes it a list
        identifier = identifier[0] if identifier else {}
    origin = identifier.get("value") or full_url or qr.get("id") or json.dumps(qr, sort_keys=True)
    return {
        "client_id": client_id,
        "display_name": None,
        "birth_year": None,
        "course": context["course"],
        "session": context["session"],
        "administration": {
            "instrument_id": instrument.id,
            "instrument_version": instrument.version,
            "respondent": context["respondent"] or instrument.respondent,
            "source": "import",
            "started_at": authored,
            "finished_at": authored,
            "import_key": _import_key("fhir", client_id, instrument.id, identifier.get("system", ""), origin),
        },
        "responses": responses,
        "score": score,
    }


def _questionnaire_instrument(f, url: str):
    registry = _registry()
    canonical, _, version = url.partition("|")
    name = canonical.rstrip("/").rsplit("/", 1)[-1]
    if canonical.startswith(f.QUESTIONNAIRE) or canonical.startswith("Questionnaire/"):
        try:
            return _instrument_for(name, version or None)
        except ValueError as exc:
            return str(exc)
    # A LOINC-coded questionnaire (e.g. .../44249-1): the instrument whose verified panel code it is.
    for instrument in registry.instruments.values():
        if instrument.loinc and name == instrument.loinc:
            return instrument
    return f"questionnaire {url!r} is not a registered instrument (expected {f.QUESTIONNAIRE}<instrument>|<version>)"


def _subject_id(subject: dict) -> Optional[str]:
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier["value"])
    ref = subject.get("reference") or ""
    if ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


def _session_context(f, qr: dict) -> dict:
    ext = next((e for e in qr.get("extension") or [] if e.get("url") == f.SESSION_EXTENSION), None)
    if ext is None:
        raise ValueError(f"no {f.SESSION_EXTENSION} extension: the IPT course and session are unknown")
    parts: dict[str, list[Any]] = {}
    for sub in ext.get("extension") or []:
        value = next((v for k, v in sub.items() if k.startswith("value")), None)
        parts.setdefault(sub.get("url"), []).append(value)

    def one(name: str, required: bool = True):
        values = parts.get(name) or []
        if not values and required:
            raise ValueError(f"the ipt-session extension lacks {name}")
        return values[0] if values else None

    planned, areas = _check_course(one("plannedSessions"), [str(a) for a in parts.get("problemArea") or []])
    number = _int(one("sessionNumber"), "sessionNumber")
    if number < 1:
        raise ValueError("session numbers start at 1")
    phase = one("phase")
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
    respondent = one("respondent", required=False)
    if respondent is not None and respondent not in RESPONDENTS:
        raise ValueError(f"respondent {respondent!r} is not one of {', '.join(RESPONDENTS)}")
    course = {"start_date": _iso_date(one("courseStart"), "courseStart"), "planned_sessions": planned,
              "problem_areas": areas, "protocol": one("protocol", required=False)}
    if one("courseEnd", required=False):
        course["end_date"] = _iso_date(one("courseEnd"), "courseEnd")
    return {
        "course": course,
        "session": {"number": number, "date": _iso_date(one("sessionDate"), "sessionDate"), "phase": phase},
        "respondent": respondent,
    }


def _flatten(items: Iterable[dict]) -> Iterator[dict]:
    for entry in items:
        if not isinstance(entry, dict):
            continue
        if entry.get("item"):  # a group: its questions are what count
            yield from _flatten(entry["item"])
            continue
        yield entry


def _answer_value(f, instrument: Any, item_id: str, entry: dict) -> tuple[Optional[int], str]:
    answers = entry.get("answer") or []
    if not answers:
        reason = next((e.get("valueCode") for e in entry.get("extension") or [] if e.get("url") == f.DATA_ABSENT), None)
        return None, "declined" if reason == "asked-declined" else "skipped"
    if len(answers) > 1:
        raise ValueError(f"item {item_id} has {len(answers)} answers; one is expected")
    answer = answers[0]
    if "valueInteger" in answer:
        return _int(answer["valueInteger"], f"item {item_id}: valueInteger"), "answered"
    if "valueDecimal" in answer:
        return _int(answer["valueDecimal"], f"item {item_id}: valueDecimal"), "answered"
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        raise ValueError(f"item {item_id}: the answer is not a valueCoding, valueInteger or valueDecimal")
    weight = next((e.get("valueDecimal", e.get("valueInteger")) for e in coding.get("extension") or []
                   if e.get("url") in (f.ITEM_WEIGHT, f.ORDINAL_VALUE)), None)
    from_code = None
    system, code = coding.get("system"), coding.get("code")
    if system == f.LOINC and code:
        try:
            item = instrument.item(item_id)
        except KeyError:
            raise ValueError(f"{instrument.id} has no item {item_id!r}") from None
        matches = [o.value for o in instrument.options_for(item) if o.loinc == code]
        if not matches:
            raise ValueError(f"item {item_id}: LOINC answer {code} is not one of this item's answers")
        from_code = matches[0]
    elif system == f.answer_system(instrument.id) and code is not None:
        from_code = _int(code, f"item {item_id}: answer code")
    if weight is not None:
        weight_value = _int(weight, f"item {item_id}: itemWeight")
        if from_code is not None and from_code != weight_value:
            raise ValueError(f"item {item_id}: answer code {code} means {from_code} but its itemWeight says {weight_value}")
        return weight_value, "answered"
    if from_code is None:
        raise ValueError(f"item {item_id}: answer coding {system}|{code} gives no value (no itemWeight, unknown code)")
    return from_code, "answered"


def _stated_total(f, instrument: Any, qr: dict, full_url: Optional[str], totals: dict) -> Optional[float]:
    refs = [r for r in (full_url, f"QuestionnaireResponse/{qr.get('id')}" if qr.get("id") else None) if r]
    own = f"{instrument.id}.{instrument.primary.id}"
    for ref in refs:
        for obs in totals.get(ref, []):
            codes = {(c.get("system"), c.get("code")) for c in (obs.get("code") or {}).get("coding") or []}
            if (f.SCORE_SYSTEM, own) in codes or (instrument.primary.loinc and (f.LOINC, instrument.primary.loinc) in codes):
                quantity = obs.get("valueQuantity") or {}
                if quantity.get("value") is not None:
                    return float(quantity["value"])
    return None
