"""Looking after the record: ``doctor`` (is everything sound?) and ``backup`` (a consistent copy, even in use).

Both open the database read-only: a check or a backup never changes the record it looks at.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from .errors import StoreError, UsageError

OK, WARN, FAIL = "ok", "warn", "fail"


def _usable(path: Path, what: str) -> Path:
    """Refuse a path the operating system cannot take (a NUL byte, a name too long) in one line."""
    try:
        path.exists()
    except ValueError:
        raise UsageError(f"the {what} path contains a NUL character") from None
    except OSError as exc:
        raise UsageError(f"cannot use {str(path)[:80]!r} as the {what}: {exc.strerror}") from None
    return path


def _database_path(db_path: Optional[str | Path]) -> Path:
    from .paths import database_path
    from .store import is_server

    if db_path is not None and not str(db_path).strip():
        raise UsageError("--db is empty: give a database file, or leave --db out for the default")
    location = db_path or database_path()
    if is_server(location):
        return location  # type: ignore[return-value]  # a postgresql:// URL: the store checks it
    return _usable(Path(location), "database")


def _check(name: str, status: str, detail: str) -> dict:
    return {"check": name, "status": status, "detail": detail}


def doctor(db_path: Optional[str | Path] = None, *, quick: bool = False, progress: Any = None) -> list[dict]:
    """Check the record and the installation; returns one dict per check (check, status, detail).

    Checks: the database file exists and is owner-only (0600); SQLite's ``PRAGMA integrity_check``
    (``quick_check`` with ``quick``) and ``foreign_key_check``; the schema version against this release's
    migrations; administrations left in progress; every stored score against its stored answers, re-scored
    with the current scorer (``scores``); temporary files a killed export, report or backup left behind
    (``leftovers``); and every plugin problem the registry recorded.
    """
    from .progress import bar
    from .store.migrations import MIGRATIONS

    from .store import is_server

    path = _database_path(db_path)
    checks: list[dict] = []
    with bar(progress, "Checking", 2) as shown:  # the record (integrity_check is the long part), the plugins
        if is_server(path):  # a clinic's server: no file here; the checks run in one read-only snapshot
            from .store.postgres import display

            checks.append(_check("database", OK, display(str(path))))
            checks.extend(_database_checks(path, quick, [name for name, _ in MIGRATIONS]))
            checks.extend(_leftover_checks(path))
        elif not path.exists():
            checks.append(_check("database", FAIL, f"no database at {path} (ipt clients add, ipt import or ipt demo "
                                                    "create one; no other command does)"))
        else:
            checks.append(_check("database", OK, str(path)))
            checks.extend(_file_checks(path))
            checks.extend(_database_checks(path, quick, [name for name, _ in MIGRATIONS]))
            checks.extend(_leftover_checks(path))
        shown.update(1)
        checks.extend(_plugin_checks())
        shown.update(1)
    return checks


def _leftover_checks(path: Path) -> list[dict]:
    """Temporary ``.NAME.*.partial`` files a killed export, report or backup left: in the database's folder,
    the current folder, and every folder an export or report recorded in the audit was written to."""
    from .files import leftovers

    from .store import is_server

    folders = {Path.cwd()} if is_server(path) else {path.parent, Path.cwd()}
    folders.update(Path(p).parent for p in _recorded_outputs(path))
    found = leftovers(sorted(folders))
    if not found:
        return [_check("leftovers", OK, "no temporary files left by a killed export, report or backup")]
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return [_check("leftovers", WARN, f"{len(found)} temporary file(s) left by a killed export, report or backup: "
                   + ", ".join(str(p) for p in found[:3]) + more + " (owner-only; delete them once no export is running)")]


def _recorded_outputs(path: Path) -> list[str]:
    """The files exports and reports were written to, from the audit (read-only; none if unreadable)."""
    from .store import recorded_outputs

    try:
        return recorded_outputs(path)
    except Exception:  # an older schema or a damaged file: the other checks say so
        return []


def _file_checks(path: Path) -> list[dict]:
    checks = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        checks.append(_check("permissions", WARN,
                             f"{path} is mode {mode:04o}: others can read clinical records (fix: chmod 600 {path})"))
    else:
        checks.append(_check("permissions", OK, f"mode {mode:04o} (owner only)"))
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        checks.append(_check("writable", WARN, f"{path} or its folder is not writable: the record can be read, not changed"))
    return checks


def _database_checks(path: Path, quick: bool, known: list[str]) -> list[dict]:
    from .store import inspect_record, is_server

    checks = []
    try:
        with inspect_record(path) as record:
            try:
                problems = record.integrity_problems(quick)
            except StoreError as exc:
                return [_check("integrity", FAIL, f"not a readable record: {exc}")]
            if problems:
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                checks.append(_check("integrity", FAIL, "; ".join(problems[:3]) + more +
                                     " (restore the latest backup: ipt backup made one with its date)"))
            else:
                checks.append(_check("integrity", OK, f"{record.integrity_method(quick)}: ok"))
            try:
                orphans = record.broken_references()
                checks.append(_check("references", FAIL if orphans else OK,
                                     f"{orphans} row(s) refer to missing records" if orphans else "every reference resolves"))
                applied = record.applied_migrations()
            except StoreError as exc:
                checks.append(_check("schema", FAIL, f"not an ipt-measures database ({exc})"))
                return checks
            unknown = sorted(set(applied) - set(known))
            pending = [n for n in known if n not in applied]
            if unknown:
                checks.append(_check("schema", FAIL, f"written by a newer ipt-measures (schema {unknown[-1]}); upgrade"))
            elif pending:
                when = "an admin applies them: ipt db upgrade" if is_server(path) else "applied on next write"
                checks.append(_check("schema", WARN, f"{len(pending)} migration(s) pending ({pending[-1]}); {when}"))
            else:
                checks.append(_check("schema", OK, f"version {applied[-1] if applied else 'none'} (current)"))
            counts = record.counts()
            open_admins = record.in_progress()
            checks.append(_check("records", OK, f"{counts['clients']} clients, {counts['administrations']} administrations,"
                                                f" {counts['responses']} answers"))
            if open_admins:
                checks.append(_check("in progress", WARN, f"{open_admins} administration(s) interrupted; resume or abandon them"))
            mode = record.journal_mode()
            if mode.startswith("synchronous_commit"):  # a server: durability is its own
                checks.append(_check("journal", OK if mode == "synchronous_commit on" else WARN, mode))
            else:
                checks.append(_check("journal", OK if mode == "wal" else WARN, f"journal_mode {mode}"))
            checks.append(score_check(record.scored_administrations()))
    except StoreError as exc:
        checks.append(_check("integrity", FAIL, f"cannot open {path}: {exc}"))
    return checks


def score_check(administrations: Iterable[dict]) -> dict:
    """Re-score every completed administration's stored answers with the current scorer and compare with its
    stored score: every scale's value and band, and the critical items. A score that disagrees with its own
    answers fails (the record contradicts itself); one stored under another version of its instrument is a
    warning (the definition changed since); an instrument no plugin registers now cannot be checked."""
    from .plugins import get_registry

    registry = get_registry()
    checked, unknown, wrong, changed = 0, set(), [], []
    for admin in administrations:
        instrument = registry.instruments.get(admin["instrument_id"])
        if instrument is None:
            unknown.add(admin["instrument_id"])
            continue
        checked += 1
        where = (f"administration {admin['id']} ({admin['client_id']}, session {admin['session_number']}, "
                 f"{admin['instrument_id']})")
        if admin["score"] is None:
            wrong.append(f"{where}: complete but has no score")
            continue
        columns = _column_difference(admin["score"], admin.get("columns"))
        if columns:  # what the caseload shows is not what the score says
            wrong.append(f"{where}: {columns}")
            continue
        answers = {item.id: admin["answers"].get(item.id) for item in instrument.items}
        try:
            fresh = registry.score(instrument.id, answers).model_dump(mode="json")
        except Exception as exc:  # answers the current definition refuses (an option removed since)
            problem = f"{where}: its answers cannot be scored now ({exc})"
        else:
            problem = _score_difference(admin["score"], fresh)
            problem = problem and f"{where}: {problem}"
        if problem:
            (changed if admin["instrument_version"] != instrument.version else wrong).append(problem)
    if wrong:
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        return _check("scores", FAIL, f"{len(wrong)} stored score(s) disagree with their answers: "
                                      + "; ".join(wrong[:3]) + more + " (the record contradicts itself: check the answers; "
                                      "ipt amend re-scores an administration when an answer is corrected)")
    note = f"{checked} stored score(s) match their answers"
    if unknown:
        note += f"; not checked: {', '.join(sorted(unknown))} (no plugin registers it)"
    if changed:
        return _check("scores", WARN, f"{note}, except {len(changed)} stored under an earlier version of the "
                                      f"instrument that the current one scores differently: {changed[0]}")
    return _check("scores", OK, note)


def _column_difference(score: dict, columns: Optional[dict]) -> Optional[str]:
    """How a score's indexed columns (total, band, flag count: what the caseload reads) differ from its own
    data, in words; None when they agree."""
    import math

    if not columns:
        return None
    total = (score.get("total") or {})
    value, column = total.get("value"), columns["total"]
    if (value is None) != (column is None) or (value is not None and not math.isclose(value, column, abs_tol=1e-9)):
        return f"its total column says {'not scored' if column is None else f'{column:g}'}, its score data " \
               f"{'not scored' if value is None else f'{value:g}'}"
    if total.get("band") != columns["band"]:
        return f"its band column says {columns['band']!r}, its score data {total.get('band')!r}"
    if len(score.get("flags") or []) != columns["flag_count"]:
        return f"its critical-item count column says {columns['flag_count']}, its score data {len(score.get('flags') or [])}"
    return None


def _score_difference(stored: dict, fresh: dict) -> Optional[str]:
    """How a stored score differs from a fresh one of the same answers, in words; None when they agree."""
    import math

    def scales(score: dict) -> dict:
        return {s["id"]: s for s in [score.get("total") or {}, *(score.get("subscales") or [])] if s}

    old, new = scales(stored), scales(fresh)
    for scale_id, now in new.items():
        then = old.get(scale_id)
        if then is None:
            return f"no stored {scale_id} score"
        a, b = then.get("value"), now.get("value")
        same = (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9))
        if not same or then.get("band") != now.get("band"):
            shown = lambda v: "not scored" if v is None else f"{v:g}"  # noqa: E731
            return f"stored {scale_id} {shown(a)}, its answers score {shown(b)}"
    flagged = lambda score: sorted(str(f.get("item")) for f in score.get("flags") or [])  # noqa: E731
    if flagged(stored) != flagged(fresh):
        return (f"stored critical items {', '.join(flagged(stored)) or 'none'}, its answers raise "
                f"{', '.join(flagged(fresh)) or 'none'}")
    return None


def _plugin_checks() -> list[dict]:
    from .plugins import get_registry

    try:
        registry = get_registry().fully_validated()  # every file validated, whatever the compiled cache holds
    except Exception as exc:  # the doctor must report a broken install, not die of it
        return [_check("plugins", FAIL, f"plugins could not be loaded: {type(exc).__name__}: {exc}")]
    checks = [_check("instruments", OK if registry.instruments else FAIL,
                     f"{len(registry.instruments)} registered" if registry.instruments else "none registered")]
    errors = registry.errors
    if not errors:
        checks.append(_check("plugins", OK, f"{len(registry.plugins)} loaded, no problems"))
    for name, error in errors:
        checks.append(_check(f"plugin {name}", WARN, error))
    return checks


def backup(dest: str | Path, db_path: Optional[str | Path] = None, *, force: bool = False, progress: Any = None) -> dict:
    """Copy the record to ``dest`` through SQLite's online backup API, consistent even while it is in use.

    The copy is taken in one step from a read snapshot, so it holds every transaction committed before
    the backup started and none after; in WAL mode other processes keep reading and writing meanwhile.
    ``dest`` is created owner-only (0600); an existing file is never overwritten unless ``force``. The copy
    is written beside ``dest`` first and moved into place only after it passes ``integrity_check``, so a
    failed backup (full disk, read-only folder) leaves nothing half-written behind.
    """
    from .files import companions, same_file
    from .progress import bar

    from .store import backup_record, is_server

    source = _database_path(db_path)
    if is_server(source):
        return backup_record(source, Path(dest))  # says, in one line, that pg_dump backs up a server
    dest = _usable(Path(dest), "backup")
    if not source.exists():
        raise StoreError(f"no database at {source}")
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists; choose a new name or add --force to replace it")
    if dest.exists() and not dest.is_file():  # a folder, a device (/dev/null), a pipe: never replaced
        raise UsageError(f"{dest} is not a regular file; give a file name")
    if any(same_file(dest, p) for p in companions(source)):
        raise UsageError("the backup cannot replace the database it copies (or its -wal, -shm or -journal file)")
    if not dest.parent.is_dir():
        raise UsageError(f"no folder {dest.parent}")
    started = time.perf_counter()
    with bar(progress, "Backing up", 2) as shown:  # the copy, then its integrity check
        counts = backup_record(source, dest, force=force, step=lambda: shown.update(1))
    return {"source": str(source), "backup": str(dest), "bytes": dest.stat().st_size,
            "seconds": round(time.perf_counter() - started, 3), **counts}
