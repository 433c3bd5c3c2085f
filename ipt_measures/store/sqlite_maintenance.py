"""The SQLite side of ``ipt doctor`` and ``ipt backup``: a read-only look at a record file, and an online copy.

Both open the database read-only: a check or a backup never changes the record it looks at. Every SQLite
error leaves as :class:`~ipt_measures.errors.StoreError` with one line saying what happened.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..errors import StoreError, UsageError

TABLES_COUNTED = ("clients", "administrations", "responses")


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Open without any write, even to the -shm file.

    A WAL database needs its -shm file to be read; on a read-only medium (a mounted backup, a read-only
    file system) that file cannot be created. If no unmerged -wal content exists, nothing can be missed by
    reading the main file as immutable, so that is done instead of failing.
    """
    uri = f"file:{_uri_path(path)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=15, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 15000")
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
        conn.close()
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
    return conn


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()), safe="/")


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES_COUNTED}


class SQLiteInspection:
    """A read-only look at a record file; each method raises StoreError if the file cannot answer it."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def _all(self, sql: str) -> list:
        try:
            return self._conn.execute(sql).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(exc)) from None

    def integrity_method(self, quick: bool = False) -> str:
        """What :meth:`integrity_problems` runs: SQLite's integrity_check (quick_check with ``quick``)."""
        return "quick_check" if quick else "integrity_check"

    def integrity_problems(self, quick: bool = False) -> list[str]:
        """What SQLite's integrity_check (quick_check with ``quick``) finds wrong; empty when sound."""
        rows = self._all("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
        return [r[0] for r in rows if r[0] != "ok"]

    def broken_references(self) -> int:
        """How many rows refer to a record that does not exist."""
        return len(self._all("PRAGMA foreign_key_check"))

    def applied_migrations(self) -> list[str]:
        """The migrations applied to this file, by name."""
        return [r[0] for r in self._all("SELECT name FROM schema_migrations ORDER BY name")]

    def counts(self) -> dict[str, int]:
        """Clients, administrations and responses held."""
        try:
            return _counts(self._conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(exc)) from None

    def in_progress(self) -> int:
        """How many administrations were left in progress."""
        return self._all("SELECT count(*) FROM administrations WHERE status = 'in-progress'")[0][0]

    def journal_mode(self) -> str:
        """SQLite's journal mode (wal is expected)."""
        return self._all("PRAGMA journal_mode")[0][0]

    def scored_administrations(self) -> Iterator[dict]:
        """Every completed administration with its current score and stored answers, streamed in id order."""
        from .sqlite import scored_administrations

        try:
            yield from scored_administrations(self._conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(exc)) from None


@contextmanager
def inspect(path: Path) -> Iterator[SQLiteInspection]:
    """A read-only look at the record file at ``path`` (StoreError, saying why, if it cannot be opened)."""
    try:
        conn = _open_read_only(path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(str(exc)) from None
    try:
        yield SQLiteInspection(conn)
    finally:
        conn.close()


def backup(source: Path, dest: Path, *, force: bool = False,
           step: Optional[Callable[[], None]] = None) -> dict[str, int]:
    """Copy ``source`` to ``dest`` through SQLite's online backup API; returns what the copy holds.

    The copy is taken in one step from a read snapshot, so it holds every transaction committed before
    the backup started and none after; in WAL mode other processes keep reading and writing meanwhile.
    It is written owner-only beside ``dest`` first and moved into place only after it passes
    ``integrity_check``, so a failed backup leaves nothing half-written; without ``force`` an existing
    ``dest`` is never replaced, even one that appears meanwhile. ``step`` is called after each of the two
    stages (the copy, its check), for a progress bar: copied in pages instead, the backup would restart each
    time another process wrote, and would no longer come from one snapshot.
    """
    from ..files import publish, temp_beside

    temp = None
    try:
        fd, temp = temp_beside(dest)  # random name, O_EXCL|O_NOFOLLOW, owner-only (files.py)
        os.close(fd)
        src = _open_read_only(source)
        dst = sqlite3.connect(temp, isolation_level=None)
        try:
            src.backup(dst)  # pages=-1: the whole database from one read transaction
            if step:
                step()
            result = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if step:
                step()
            if result != "ok":
                raise StoreError(f"the copy failed its integrity check ({result}); the database may be damaged: run ipt doctor")
            counts = _counts(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
            src.close()
        publish(temp, dest, force=force)  # without force, fails if dest appeared meanwhile
    except FileExistsError:
        _remove(temp)
        raise UsageError(f"{dest} already exists; choose a new name or add --force to replace it") from None
    except (sqlite3.Error, OSError) as exc:
        _remove(temp)
        raise _translate(exc, dest) from None
    except BaseException:
        _remove(temp)
        raise
    return counts


def _remove(path: Optional[Path]) -> None:
    if path is None:
        return
    for p in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal"),
              path.with_name(path.name + "-shm")):
        try:
            p.unlink()
        except OSError:
            pass


def _translate(exc: BaseException, dest: Path) -> StoreError:
    text = str(getattr(exc, "strerror", None) or exc)
    lowered = text.lower()
    errno: Optional[int] = getattr(exc, "errno", None)
    if "full" in lowered or "no space" in lowered or errno == 28:
        return StoreError(f"the disk holding {dest} is full; no backup was written and the database is unchanged")
    if "read-only" in lowered or "readonly" in lowered or "permission" in lowered or errno in (13, 30):
        return StoreError(f"cannot write {dest} ({text}); no backup was written and the database is unchanged")
    return StoreError(f"backup to {dest} failed: {text}; the database is unchanged")
