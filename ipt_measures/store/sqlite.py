"""The SQLite record store: one file, owner-only, WAL, every write committed before the call returns.

The statements are shared with PostgreSQL (``sql.SQLStore``); this class supplies the file, the
connection, BEGIN IMMEDIATE, SQLite's error messages, migrations and the export stream. It knows nothing
of Click, instruments or scoring rules: it stores what it is given and refuses what would silently
overwrite a record.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from ..errors import StoreError
from .base import EXPORT_COLUMNS
from .bulk import ANALYZE_AFTER  # noqa: F401  (re-exported for the tests)
from .migrations import MIGRATIONS
from .sql import (  # noqa: F401  (re-exported: bulk, maintenance, tests and benchmarks import them from here)
    _INSERT_RESPONSE, EXPORT_SELECT, SEVERITIES, SQLStore, _export_client_filter, _score_columns, declared, login,
    now, scored_administrations,
)

if TYPE_CHECKING:
    from .sqlite_maintenance import SQLiteInspection

BUSY_TIMEOUT_MS = 15_000


class SQLiteStore(SQLStore):
    """The record store on one SQLite file."""

    engine = "sqlite"
    _unindexed = "+"
    _driver_error = sqlite3.OperationalError

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        self._streams: set[sqlite3.Cursor] = set()  # export cursors not yet closed
        self._closed = False
        self._conn = self._connect(create)
        self.migrated = self.migrate()  # what opening applied (ipt db upgrade says so)

    # -- connection --------------------------------------------------------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection:
        if not self.path.exists():
            if not create:
                raise StoreError(f"no database at {self.path}")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Created readable and writable by its owner only: it holds clinical records.
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot create the database {self.path}: {exc.strerror or exc}") from None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal" and os.access(self.path, os.W_OK):
                raise StoreError(f"cannot switch {self.path} to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed transaction's integrity
        except sqlite3.DatabaseError as exc:
            why = self._filesystem_problem() if isinstance(exc, sqlite3.OperationalError) else None
            raise StoreError(why or f"cannot open the database {self.path}: {exc}") from None
        return conn

    def files(self) -> list[Path]:
        """The files this store keeps (the database, its -wal, -shm and -journal): never an output."""
        from ..files import companions

        return companions(self.path)

    def close(self) -> None:
        """Close the store; an export still streaming (see :meth:`export_rows`) is closed first."""
        if self._closed:
            return
        self._closed = True
        for cursor in list(self._streams):
            cursor.close()
        self._streams.clear()
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")  # only a read transaction can be open here
        self._conn.close()

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once (BEGIN IMMEDIATE) so two writers queue instead of failing."""
        try:
            self._begin()
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None
        try:
            yield self._conn
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.OperationalError):  # e.g. the disk filled mid-statement
                raise self._translate(exc) from None
            raise
        else:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                raise self._translate(exc) from None

    def _rollback(self) -> None:
        # SQLite may already have rolled back by itself (SQLITE_FULL, I/O errors): a second ROLLBACK
        # would raise "no transaction is active" and hide the real error.
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _begin(self) -> None:
        # busy_timeout covers most waits; this loop covers the rare SQLITE_BUSY returned without waiting.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            return StoreError(f"the database {self.path} is read-only; nothing was changed")
        if "disk is full" in text or "full" in text:
            return StoreError(f"the disk holding {self.path} is full; nothing was changed")
        if "locked" in text or "busy" in text:
            return StoreError(f"the database {self.path} is busy (another process holds it); try again")
        if "disk I/O error" in text or "unable to open" in text:
            why = self._filesystem_problem()  # SQLite reports a full or read-only disk this way at times
            if why:
                return StoreError(why)
        return StoreError(f"database error on {self.path}: {text}")

    def _filesystem_problem(self) -> Optional[str]:
        """Say so when the file system holding the database is read-only or out of space."""
        try:
            fs = os.statvfs(self.path.parent)
        except (OSError, AttributeError):  # no statvfs on Windows
            return None
        if fs.f_flag & os.ST_RDONLY:
            return f"the database {self.path} is on a read-only file system; nothing was changed"
        if fs.f_bavail * fs.f_frsize < 1 << 20:
            return f"the disk holding {self.path} is full; nothing was changed"
        return None

    def _write(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """One statement in its own transaction."""
        with self._transaction() as conn:
            return conn.execute(sql, params)

    def _query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None

    def _tuples(self, sql: str, params: Any = ()) -> list[tuple]:
        """As :meth:`_query`, plain tuples: quicker to make and to index than sqlite3.Row (the caseload's rows)."""
        cursor = self._conn.cursor()
        cursor.row_factory = None
        try:
            return cursor.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None
        finally:
            cursor.close()

    # -- looking after the file (ipt doctor, ipt backup): read-only, without opening a store ----------

    @staticmethod
    def inspect_file(path: Path) -> AbstractContextManager["SQLiteInspection"]:
        """A read-only look at a record file (integrity, references, schema, counts, scores)."""
        from .sqlite_maintenance import inspect

        return inspect(path)

    @staticmethod
    def recorded_outputs(path: Path) -> list[str]:
        """The files exports and reports were written to (audit entity "file"), read without any write."""
        from .sqlite_maintenance import _open_read_only

        conn = _open_read_only(path)
        try:
            return [r[0] for r in conn.execute("SELECT DISTINCT entity_id FROM audit WHERE entity = 'file'") if r[0]]
        finally:
            conn.close()

    @staticmethod
    def backup_file(source: Path, dest: Path, *, force: bool = False,
                    step: Optional[Callable[[], None]] = None) -> dict[str, int]:
        """Copy a record file consistently while it is in use; returns what the copy holds."""
        from .sqlite_maintenance import backup

        return backup(source, dest, force=force, step=step)

    # -- schema ------------------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply every migration not yet applied, each in its own transaction. Returns those applied."""
        try:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc):
                return []  # a read-only file can still be read, if its schema is current (checked below)
            raise self._translate(exc) from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not an ipt-measures database ({exc})") from None
        applied = {row[0] for row in self._conn.execute("SELECT name FROM schema_migrations")}
        known = [name for name, _ in MIGRATIONS]
        unknown = applied - set(known)
        if unknown:
            raise StoreError(
                f"{self.path} was written by a newer ipt-measures (schema {sorted(unknown)[-1]}); upgrade to open it"
            )
        done = []
        pending = [(name, sql) for name, sql in MIGRATIONS if name not in applied]
        if not pending:
            return done
        # SQLite's procedure for changing a table it cannot ALTER (rebuild, drop, rename) needs foreign keys
        # off, which only takes effect outside a transaction; each migration checks them before it commits.
        self._conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for name, sql in pending:
                with self._transaction() as conn:
                    for statement in _statements(sql):
                        conn.execute(statement)
                    broken = conn.execute("PRAGMA foreign_key_check").fetchone()
                    if broken:
                        raise StoreError(f"migration {name} would break a reference in table {broken[0]}; "
                                         "nothing was changed")
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, now()))
                done.append(name)
        finally:
            self._conn.execute("PRAGMA foreign_keys = ON")
        return done

    def pending_migrations(self) -> list[str]:
        """The migrations not yet applied (none once the store is open and writable: opening applies them)."""
        applied = {row[0] for row in self._conn.execute("SELECT name FROM schema_migrations")}
        return [name for name, _ in MIGRATIONS if name not in applied]

    def schema_version(self) -> str:
        row = self._conn.execute("SELECT name FROM schema_migrations ORDER BY name DESC LIMIT 1").fetchone()
        return row[0] if row else "none"

    # -- engine specifics ------------------------------------------------------------------------

    @contextmanager
    def export_rows(self, client_ids: Optional[list[str]] = None, *, order_key: Optional[Callable[[str], str]] = None,
                    batch: int = 500) -> Iterator[Iterator[list[tuple]]]:
        """A context manager giving batches of completed administrations as plain tuples in
        :data:`EXPORT_COLUMNS` order, in client (or ``order_key(client id)``), course, session order, all from
        one read transaction.

        Memory stays flat however large the record: one open cursor read ``batch`` rows at a time, never
        all of them; every batch sees the same snapshot, even if a clinician stores a score while a long
        export runs (WAL lets both proceed). The cursor closes and the transaction ends when the ``with``
        block is left, however it is left; an export abandoned mid-way whose block is never left (a
        traceback holding its frames) is closed by :meth:`close` before the connection."""
        where, params = _export_client_filter(client_ids)
        conn = self._conn
        if order_key is not None:
            conn.create_function("ipt_export_order", 1, order_key, deterministic=True)
            order = " ORDER BY ipt_export_order(c.id)"
        else:
            order = " ORDER BY c.id"
        order += ", co.start_date, co.id, s.number, a.id"
        began = not conn.in_transaction
        if began:
            conn.execute("BEGIN")
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: quicker than sqlite3.Row by name
        self._streams.add(cursor)
        try:
            cursor.execute(EXPORT_SELECT + where + order, params)
            if tuple(d[0] for d in cursor.description) != EXPORT_COLUMNS:
                raise RuntimeError("the export query's columns are not EXPORT_COLUMNS")
            yield iter(lambda: cursor.fetchmany(batch), [])
        finally:
            self._streams.discard(cursor)
            # After close() there is nothing left to close or commit.
            try:
                cursor.close()
                if began and conn.in_transaction:
                    conn.execute("COMMIT")
            except sqlite3.ProgrammingError:
                pass

    # -- bulk ----------------------------------------------------------------------------------------

    def bulk_import(self, records: Iterable[dict], batch_size: int = 2000, counts: Optional[dict] = None) -> dict[str, int]:
        """Store completed, scored administrations in bulk, a batch per transaction (see :func:`.bulk.bulk_import`)."""
        from .bulk import bulk_import
        from .sqlite_bulk import SQLiteWriter

        return bulk_import(self, SQLiteWriter(), records, batch_size, counts)

    def imported_answers(self, keys: list[str]) -> dict[str, tuple[int, dict]]:
        """For the import keys already stored: key -> (administration id, {item: (value, status)})."""
        from .bulk import imported_answers

        return imported_answers(self, keys)

    def analyze(self) -> None:
        """Refresh the query planner's statistics after bulk work (sampled: ``analysis_limit`` keeps it quick).

        Statistics only speed queries up, so a busy database (another process importing) just skips it.
        """
        try:
            self._conn.execute("PRAGMA analysis_limit = 1000")
            self._conn.execute("ANALYZE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise self._translate(exc) from None

    def stored_import_keys(self, keys: list[str]) -> set[str]:
        """Which of these import keys are already stored (what a re-run import skips)."""
        from .bulk import stored_import_keys

        return stored_import_keys(self._conn, keys)


def _statements(sql: str) -> list[str]:
    """Split a migration into statements with SQLite's own parser (comments may hold semicolons)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(line.strip().startswith("--") or not line.strip() for line in buffer.splitlines()):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]}")
    return statements
