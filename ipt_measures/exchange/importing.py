"""``ipt import``: check, rescore and store every administration a registered reader yields from a file.

The **check pass** reads every record, range-checks every field (``records.check_record``), rescores
it, and checks it against the record already stored: a course or session of the same client that
differs (dates, length, phase), a second active course, a record amended at its source since an earlier
import. Checked records wait in a working file, so memory stays flat however large the file is. Only if
nothing was rejected does the **storing pass** store them (``store.bulk_import``), in batches of one
transaction each. If storing stops (a full disk, Ctrl-C), the report says exactly how many
administrations were stored; each carries a stable import key, so running the same import again skips
them and stores the rest.
"""

from __future__ import annotations

import marshal
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from ..errors import IptError, UsageError
from ..gcpause import bulk_collection
from . import Rejection, available_importers
from .records import check_record

KEPT_REJECTIONS = 1000  # listed one by one in the report; beyond this they are counted by reason
KEY_BATCH = 500
SPOOL_CHUNK = 256  # records per marshal call in the working file


class ImportStopped(IptError):
    """Storing stopped part-way (a full disk, an interrupt): says exactly what was stored before it."""

    exit_code = 3

    def __init__(self, message: str, report: "ImportReport"):
        super().__init__(message)
        self.report = report


class ImportReport:
    """What an import did, or (dry run, or any rejection) would have done."""

    def __init__(self, path: str, format: str, dry_run: bool = False):
        self.path, self.format, self.dry_run = path, format, dry_run
        self.administrations = 0  # accepted administrations found in the file
        self.stored = 0
        self.skipped = 0  # already stored by an earlier import (same import key, same answers)
        self.amended = 0  # changed at their source since an earlier import, and stored as amendments
        self.changed = 0  # changed at their source; refused unless amend_changed
        self.rejected_administrations = 0
        self.rejected_total = 0  # every rejection, also those beyond the KEPT_REJECTIONS listed
        self.rejected: list[Rejection] = []
        self.reasons: dict[str, int] = {}  # the reasons, with values taken out, and how often each came
        self.created: dict[str, int] = {"clients": 0, "courses": 0, "sessions": 0}

    @property
    def ok(self) -> bool:
        return not self.rejected_total

    def reject(self, problems: list[Rejection]) -> None:
        self.rejected_administrations += 1
        for problem in problems:
            self.rejected_total += 1
            if len(self.rejected) < KEPT_REJECTIONS:
                self.rejected.append(problem)
            reason = _reason_kind(problem.reason)
            if reason in self.reasons or len(self.reasons) < 100:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            else:
                self.reasons["(other reasons)"] = self.reasons.get("(other reasons)", 0) + 1

    def as_dict(self) -> dict:
        return {
            "path": self.path, "format": self.format, "dry_run": self.dry_run,
            "administrations": self.administrations, "stored": self.stored, "skipped": self.skipped,
            "amended": self.amended, "changed_at_source": self.changed,
            "rejected_administrations": self.rejected_administrations,
            "rejected_total": self.rejected_total,
            "rejected": [{"where": r.where, "reason": r.reason} for r in self.rejected],
            "rejected_reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
            "created": self.created,
        }


def _reason_kind(reason: str) -> str:
    """A reason with its particular values taken out, so 1.67 million rejected rows summarise in a few lines."""
    return re.sub(r"\b\d+(\.\d+)?\b", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason))


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
    merge_differing: bool = False,
    amend_changed: bool = False,
    session: Optional[int] = None,
    course: Optional[str] = None,
) -> ImportReport:
    """Check, rescore and (unless ``dry_run`` or anything is rejected) store every administration in a file.

    :param store: an open record store.
    :param path: a long CSV (``csv``), a FHIR Bundle / QuestionnaireResponse in JSON (``fhir``), or a
        format a plugin registers.
    :param fmt: a registered import format; None guesses from the file.
    :param dry_run: check everything, store nothing.
    :param progress: ``progress(stage, total)`` returning a context manager with ``update(n)`` (such as
        ``click.progressbar``); called once per pass with the file size in bytes.
    :param merge_differing: add to a stored course or session whose length, problem areas, protocol, date
        or phase differ from the file's (the stored values are kept); refused otherwise.
    :param amend_changed: a record imported before and changed at its source since is stored as an
        amendment of the stored one (audited, rescored); refused otherwise.
    :param session: for responses that do not say which session they belong to (a standard FHIR
        QuestionnaireResponse): the session number. Without it, the session held on the response's date.
    :param course: with such responses: the start date of the client's course to file them in.
    :returns: an :class:`ImportReport`. Raises :class:`ImportStopped` if storing stops part-way.
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
    checker = _Checker(store, merge_differing, amend_changed, session, course)
    checker.own_reader = importers[fmt].plugin == __package__  # our own readers check as they read
    # The checked records, scored and filed, wait in a working file (marshal: the fastest of the standard
    # library's serialisers, for plain data): the storing pass reads them back instead of parsing and
    # scoring the file twice, and memory stays flat however large the file.
    with tempfile.TemporaryFile(prefix="ipt-import-") as spool, bulk_collection():
        try:
            chunk: list[dict] = []
            for record in checker.checked(_with_progress(reader, path, progress, "checking"), report):
                report.administrations += 1
                if not dry_run:
                    chunk.append(record)
                    if len(chunk) == SPOOL_CHUNK:
                        _spool_write(spool, chunk)
                        chunk = []
            if chunk:
                _spool_write(spool, chunk)
        except OSError as exc:
            raise UsageError(f"cannot write the import's working file ({exc.strerror or exc}); nothing was stored") from None
        report.skipped, report.changed = checker.skipped, len(checker.changed)
        if dry_run or not report.ok:
            return report
        spool.seek(0)
        counts = {"stored": 0, "skipped": 0, "clients": 0, "courses": 0, "sessions": 0}
        try:
            store.bulk_import(_stored(spool, store, checker.changed, path, report, progress), counts=counts)
        except (IptError, KeyboardInterrupt, OSError) as exc:
            _count(report, counts)
            raise ImportStopped(_stopped(report, exc), report) from None
    _count(report, counts)
    return report


def _stored(spool, store: Any, changed: dict, path: Path, report: ImportReport, progress) -> Iterator[dict]:
    """The checked records back from the working file; those changed at their source become amendments."""
    bar = progress("storing", report.administrations) if progress is not None else None
    with bar if bar is not None else _Nothing() as shown:
        while True:
            chunk = _spool_read(spool)
            if chunk is None:
                return
            if shown is not None:
                shown.update(len(chunk))
            for record in chunk:
                key = record["administration"]["import_key"]
                if key in changed:
                    _amend(store, record, changed[key], path)
                    report.amended += 1
                    continue
                yield record


def _spool_write(spool, chunk: list) -> None:
    # Length-prefixed blocks: marshal.load() on a file reads it a few bytes at a time, loads() of a block does not.
    data = marshal.dumps(chunk)
    spool.write(len(data).to_bytes(8, "little"))
    spool.write(data)


def _spool_read(spool) -> Optional[list]:
    size = spool.read(8)
    if not size:
        return None
    return marshal.loads(spool.read(int.from_bytes(size, "little")))


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _count(report: ImportReport, counts: dict) -> None:
    report.stored, report.skipped = counts["stored"], counts["skipped"]
    report.created = {k: counts[k] for k in ("clients", "courses", "sessions")}


def _stopped(report: ImportReport, exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        cause = "interrupted"
    else:
        cause = re.sub(r"[;:,] nothing was changed$", "", str(exc) or type(exc).__name__)
    done = (f"{report.stored} of {report.administrations} administration(s) were stored"
            + (f" and {report.amended} amended" if report.amended else "")
            + f" ({report.created['clients']} client(s), {report.created['courses']} course(s), "
            f"{report.created['sessions']} session(s) created), each one whole")
    return (f"import stopped ({cause}): {done}; the batch in progress was not stored. Run the same import "
            "again to store the rest: what is stored is recognised by its import key and skipped")


def _amend(store: Any, record: dict, stored: tuple[int, dict], path: Path) -> None:
    from .records import instrument_for, rescore

    admin_id, old = stored
    changes = [(item, value, status) for item, value, status in record["responses"]
               if (old.get(item) or (None, None)) != (value, status)]
    instrument = instrument_for(record["administration"]["instrument_id"], None)

    def evaluate(admin: dict, responses: dict) -> tuple:  # the answers as stored, re-read in the transaction
        return rescore(instrument, [(item, r["value"], r["status"]) for item, r in responses.items()], None)

    store.amend_responses(admin_id, changes, f"amended at its source; re-imported from {path.name}", evaluate)


class _Checker:
    """The checks that need the stored record: course and session conflicts, changed records, filing."""

    def __init__(self, store, merge_differing, amend_changed, session, course):
        self.store, self.merge, self.amend = store, merge_differing, amend_changed
        self.session, self.course = session, course
        self.clients: dict[str, Optional[list[dict]]] = {}  # client -> stored courses, each with its sessions
        self.file_courses: dict[tuple, tuple] = {}  # (client, start) -> what the file says of the course
        self.file_sessions: dict[tuple, tuple] = {}  # (client, start, number) -> (date, phase)
        self.keys: dict[str, int] = {}  # import key -> hash of its answers: the same administration twice in a file
        self.open_course: dict[str, str] = {}  # client -> start of the course without an end date in the file
        self.changed: dict[str, tuple[int, dict]] = {}  # key -> (stored administration id, its stored answers)
        self.skipped = 0
        self.own_reader = False

    def checked(self, items: Iterator[Any], report: ImportReport) -> Iterator[dict]:
        pending: list[dict] = []
        for item in items:
            if not isinstance(item, dict):
                report.reject(list(item))
                continue
            try:
                record = check_record(item, self.own_reader)
                self._file(record)
                self._against_store(record)
            except (ValueError, IptError) as exc:
                report.reject([Rejection(item.get("where") or "a record", str(exc))])
                continue
            pending.append(record)
            if len(pending) >= KEY_BATCH:
                yield from self._stored_keys(pending, report)
                pending = []
        if pending:
            yield from self._stored_keys(pending, report)

    def _stored_keys(self, records: list[dict], report: ImportReport) -> Iterator[dict]:
        """Records already imported are skipped; one whose answers changed at its source is said so."""
        stored = self.store.imported_answers([r["administration"]["import_key"] for r in records])
        for record in records:
            key = record["administration"]["import_key"]
            if key not in stored:
                yield record
                continue
            admin_id, old = stored[key]
            new = {item: (value, status) for item, value, status in record["responses"]}
            if new == old:
                self.skipped += 1
                yield record
                continue
            self.changed[key] = (admin_id, old)
            if not self.amend:
                diff = "; ".join(f"item {i}: {_shown(old.get(i))} -> {_shown(new.get(i))}"
                                 for i in sorted(set(old) | set(new), key=str) if old.get(i) != new.get(i))
                report.reject([Rejection(record["where"] or "a record", (
                    f"imported before as administration {admin_id}, and changed at its source since ({diff}): "
                    "not stored; --amend-changed stores the source's correction as an amendment (audited)"))])
                continue
            yield record

    def _file(self, record: dict) -> None:
        """The same course, session and administration must read the same wherever the file repeats them."""
        client, course, session = record["client_id"], record["course"], record["session"]
        key, answers = record["administration"]["import_key"], hash(tuple(record["responses"]))
        if self.keys.setdefault(key, answers) != answers:
            raise ValueError("the same administration (client, course, session, instrument) appears again "
                             "in the file with other answers")
        if course is None:
            return
        said = (course["planned_sessions"], tuple(course["problem_areas"]), course["protocol"], course.get("end_date"),
                course["course_type"])
        first = self.file_courses.setdefault((client, course["start_date"]), said)
        if first != said:
            raise ValueError(f"the course of {client} started {course['start_date']} is described two ways in "
                             f"the file ({_course_text(*first)} / {_course_text(*said)})")
        if course.get("end_date") is None:
            other = self.open_course.setdefault(client, course["start_date"])
            if other != course["start_date"]:
                raise ValueError(f"{client} has two courses without an end date in the file (started {other} and "
                                 f"{course['start_date']}): a client has one active course at a time")
        said_session = (session["date"], session["phase"])
        first_session = self.file_sessions.setdefault((client, course["start_date"], session["number"]), said_session)
        if first_session != said_session:
            raise ValueError(f"session {session['number']} of {client}'s course started {course['start_date']} "
                             f"is dated or phased two ways in the file ({' '.join(first_session)} / {' '.join(said_session)})")

    def _stored_courses(self, client_id: str) -> Optional[list[dict]]:
        if client_id not in self.clients:
            try:
                self.store.get_client(client_id)
            except IptError:
                self.clients[client_id] = None
            else:
                courses = self.store.courses(client_id)
                for c in courses:
                    c["sessions"] = {s["number"]: s for s in self.store.sessions(c["id"])}
                self.clients[client_id] = courses
            if len(self.clients) > 10_000:  # a cache, not the whole record in memory
                self.clients.pop(next(iter(self.clients)))
        return self.clients[client_id]

    def _against_store(self, record: dict) -> None:
        client, course, session = record["client_id"], record["course"], record["session"]
        stored = self._stored_courses(client)
        if course is None:
            self._file_into_stored(record, stored)
            return
        if not stored:  # a client the record does not hold yet: nothing stored to agree with
            return
        same = next((c for c in stored or [] if c["start_date"] == course["start_date"]), None)
        if same is None:
            active = next((c for c in stored or [] if c["end_date"] is None), None)
            if active is not None and course.get("end_date") is None:
                raise ValueError(
                    f"{client} already has an active course (started {active['start_date']}); the file's course "
                    f"started {course['start_date']} has no end date, and a client has one active course at a "
                    "time: end one of them first (ipt courses end), or give the course's course_end in the file")
            return
        differs = [f"{name}: stored {_value(same[field])}, file {_value(course.get(field))}"
                   for name, field in (("planned sessions", "planned_sessions"), ("problem areas", "problem_areas"),
                                       ("protocol", "protocol"), ("end date", "end_date"), ("course type", "course_type"))
                   if course.get(field) is not None and _value(course.get(field)) != _value(same[field])]
        number = session["number"]
        held = same["sessions"].get(number)
        if held is not None:
            differs += [f"session {number} {name}: stored {held[name]}, file {session[name]}"
                        for name in ("date", "phase") if held[name] != session[name]]
        if differs and not self.merge:
            raise ValueError(f"{client}'s course started {course['start_date']} is stored differently "
                             f"({'; '.join(differs)}): not merged; --merge-differing adds to it, keeping what is stored")
        if differs:  # merged: the stored course and session stand, the file's description of them does not
            record["course"] = {k: same[k] for k in ("start_date", "planned_sessions", "problem_areas", "protocol",
                                                     "end_date", "course_type")}
            if held is not None:
                record["session"] = {"number": number, "date": held["date"], "phase": held["phase"]}

    def _file_into_stored(self, record: dict, stored: Optional[list[dict]]) -> None:
        """A response without our session extension goes into a stored course: by --course/--session, or by date."""
        client, day = record["client_id"], record["session"].get("date")
        if stored is None:
            raise ValueError(f"client {client!r} is not in the record: a response without course and session "
                             "is filed into a stored course (add the client and the course first)")
        courses = stored
        if self.course is not None:
            courses = [c for c in stored if c["start_date"] == self.course]
            if not courses:
                raise ValueError(f"{client} has no course started {self.course} (courses started: "
                                 f"{', '.join(c['start_date'] for c in stored) or 'none'})")
        elif day is not None:
            courses = [c for c in stored if c["start_date"] <= day and (c["end_date"] is None or day <= c["end_date"])]
        if self.session is not None:
            found = [(c, c["sessions"][self.session]) for c in courses if self.session in c["sessions"]]
            if not found:
                raise ValueError(f"{client} has no session {self.session}"
                                 + (f" in the course started {self.course}" if self.course else
                                    f" in a course held on {day}" if day else ""))
            if len(found) > 1:
                raise ValueError(f"{client} has a session {self.session} in {len(found)} courses: ambiguous, "
                                 "give --course START_DATE")
        elif day is None:
            raise ValueError("the response has no date (authored) to find its session by: give --session N")
        else:
            found = [(c, s) for c in courses for s in c["sessions"].values() if s["date"] == day]
            if not found:
                held = ", ".join(f"{s['number']} on {s['date']}" for c in courses for s in c["sessions"].values())
                raise ValueError(f"{client} has no session on {day} (sessions: {held or 'none'}): give --session N")
            if len(found) > 1:
                numbers = " and ".join(str(s["number"]) for _, s in found)
                raise ValueError(f"{client} has sessions {numbers} on {day}: ambiguous, give --session N "
                                 "(and --course START_DATE)")
        course, session = found[0]
        record["course"] = {k: course[k] for k in ("start_date", "planned_sessions", "problem_areas", "protocol",
                                                   "end_date", "course_type")}
        record["session"] = {"number": session["number"], "date": session["date"], "phase": session["phase"]}


def _value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _course_text(planned, areas, protocol, end, kind) -> str:
    return (f"{kind}, {planned} sessions, {', '.join(areas)}" + (f", {protocol}" if protocol else "")
            + (f", ended {end}" if end else ""))


def _shown(answer: Optional[tuple]) -> str:
    if answer is None:
        return "absent"
    value, status = answer
    return str(value) if status == "answered" else status


def _with_progress(reader, path: Path, progress, stage: str) -> Iterator[Any]:
    if progress is None:
        yield from reader(path)
    else:
        with progress(stage, path.stat().st_size) as bar:
            yield from reader(path, bar.update)
