"""The PostgreSQL record store: one record shared by a clinic, each clinician connecting as their own role.

``--db postgresql://host/dbname`` (or ``$IPT_DB``) selects it. The connection follows libpq's conventions:
everything libpq reads (a service file and ``service=``, ``~/.pgpass``, ``sslmode``, ``PGHOST`` and the other
``PG*`` variables) works as it does for psql. A password is never taken from the location itself: it would
sit in the shell history, the process list and the audit; libpq finds it in ``.pgpass`` or a service file.

The statements are the shared ones (``sql.SQLStore``); this class supplies the connection (autocommit, with
explicit transactions), the write transaction (serialised by a transaction-level advisory lock, as SQLite's
BEGIN IMMEDIATE serialises writers, so every check-then-write the store makes holds), PostgreSQL's error
messages, migrations in the PostgreSQL dialect (``migrations_postgres.py``) and an export streamed through a
server-side cursor. Durability is the server's: ``synchronous_commit`` is on for this session, so a call
returns only once its commit is on disk. The server, not this code, decides what a role may see (row-level
security, ``ipt staff``); the audit names the server's ``session_user``.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import urlsplit

from ..errors import StoreError, UsageError
from .base import EXPORT_COLUMNS
from .migrations_postgres import MIGRATIONS
from .sql import EXPORT_SELECT, SQLStore, _export_client_filter, now

SCHEMES = ("postgresql://", "postgres://")
# Every write transaction takes this lock first (pg_advisory_xact_lock), released at its commit or rollback.
WRITE_LOCK = 0x1BD_2026
# An export of at most this many clients reads their rows in one statement; more stream through a
# server-side cursor, so memory stays flat however large the caseload (a few clients' rows are a few hundred).
FEW_CLIENTS = 20
# Migrations take this one, so two `ipt db upgrade`s (or two first connections) never apply one twice.
MIGRATE_LOCK = 0x1BD_2027
# SQLSTATE 42501: a privilege the role lacks, or a row that row-level security does not let it write.
INSUFFICIENT_PRIVILEGE = "42501"
# What `ipt staff add` gives a role, by staff role (the groups and their policies: migrations_postgres 0011).
STAFF_KINDS = ("admin", "supervisor", "clinician", "researcher")


def is_server(location: Any) -> bool:
    """Whether a ``--db`` / ``$IPT_DB`` value names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(SCHEMES)


def display(location: str) -> str:
    """The location as messages and the audit show it (a password, were one there, is never shown)."""
    parts = urlsplit(location)
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].split(":", 1)[0]
    host = netloc[2]
    shown = f"{parts.scheme}://{user + '@' if user else ''}{host}{parts.path}"
    return shown + (f"?{_without_password(parts.query)}" if parts.query else "")


def _without_password(query: str) -> str:
    return "&".join(p for p in query.split("&") if not p.lower().startswith("password="))


def check_location(location: str) -> None:
    """Refuse a location that carries a password (the command line, the shell history, the audit would hold it)."""
    parts = urlsplit(location)
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo or any(p.lower().startswith("password=") for p in parts.query.split("&")):
        raise UsageError(
            "a password does not belong in a database location (--db, --to, $IPT_DB): put it in ~/.pgpass (or a service file) and connect "
            f"with {display(location)}"
        )


class Row(tuple):
    """A result row readable by position and by column name, as sqlite3.Row is (``dict(row)`` works)."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor: Any) -> Callable[[Any], Any]:
    if cursor.description is None:
        return tuple
    cls = _row_class(tuple(d.name for d in cursor.description))
    return cls


@functools.lru_cache(maxsize=1024)
def placeholders(sql: str) -> str:
    """The shared statements' ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled first)."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


class _Connection:
    """A psycopg connection spoken to as the shared statements speak to sqlite3 (``?``, ``execute`` on it).

    ``refused`` turns the server's refusal (a privilege or row-level security) into the store's one-line
    error wherever a statement runs, a read outside a transaction too."""

    def __init__(self, raw: Any, refused: Optional[Callable[[BaseException], BaseException]] = None):
        self.raw = raw
        self.refused = refused

    def execute(self, sql: str, params: Any = ()) -> Any:
        try:
            # Always a tuple, an empty one too: psycopg reads %% as % only when parameters are passed.
            return self.raw.execute(placeholders(sql), tuple(params))
        except Exception as exc:
            if self.refused is not None and getattr(exc, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                raise self.refused(exc) from None
            raise

    def executemany(self, sql: str, rows: Any) -> Any:
        cur = self.raw.cursor()
        cur.executemany(placeholders(sql), list(rows))
        return cur

    @property
    def in_transaction(self) -> bool:
        from psycopg import pq

        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE


class PostgresStore(SQLStore):
    """The record store on a PostgreSQL server (see the module docstring)."""

    engine = "postgresql"
    enforces_roles = True
    _same = "IS NOT DISTINCT FROM"
    _entry_order = "entry_order"
    _text_order = ' COLLATE "C"'

    def __init__(self, location: str, *, create: bool = True, migrate: bool = True):
        import psycopg

        check_location(location)
        self.path = display(location)  # what messages say; the location itself is kept for reconnecting
        self.location = location
        self._driver_error = psycopg.Error
        self._psycopg = psycopg
        self._closed = False
        self._streams: set[Any] = set()
        self._conn = _Connection(self._connect(location), self._translate)
        self._who: Optional[str] = None
        self._kind: Optional[str] = None
        # A researcher's export reads these once (alerts by pseudonym; the completed administrations).
        self._research_alerts: Optional[dict[str, list[dict]]] = None
        self._research_completed: Optional[set[int]] = None
        self.migrated: list[str] = []  # what opening applied
        if migrate:  # without: the caller (ipt db upgrade) migrates, or says why it may not
            self.migrated = self.migrate(only_if_permitted=True)
            self._check_schema()

    # -- connection --------------------------------------------------------------------------------

    def _connect(self, location: str) -> Any:
        psycopg = self._psycopg
        try:
            raw = psycopg.connect(location, autocommit=True, row_factory=_row_factory, application_name="ipt",
                                  connect_timeout=15)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self.path}: {_first_line(exc)}") from None
        # A commit returns only once it is durable on the server (the default; a server may have turned it off).
        raw.execute("SET synchronous_commit = on")
        # Readable identifiers in messages and JSON: the shared statements compare ISO text, never locale forms.
        raw.execute("SET client_encoding = 'UTF8'")
        return raw

    def files(self) -> list:
        """A server record keeps no file on this machine."""
        return []

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for cursor in list(self._streams):
            try:
                cursor.close()
            except self._psycopg.Error:
                pass
        self._streams.clear()
        try:
            if self._conn.in_transaction:
                self._conn.raw.execute("ROLLBACK")
        except self._psycopg.Error:
            pass
        self._conn.raw.close()

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[_Connection]:
        """A write transaction: BEGIN, then the record's write lock, so writers queue as on SQLite."""
        raw = self._conn.raw
        psycopg = self._psycopg
        try:
            raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK:d})")  # one round trip for both
        except psycopg.Error as exc:
            self._rollback()
            raise self._translate(exc) from None
        try:
            yield self._conn
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, psycopg.Error):
                raise self._translate(exc) from None
            raise
        else:
            try:
                raw.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise self._translate(exc) from None

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.raw.execute("ROLLBACK")
        except self._psycopg.Error:
            pass

    def _translate(self, exc: BaseException) -> StoreError:
        errors = self._psycopg.errors
        text = _first_line(exc)
        if isinstance(exc, errors.InsufficientPrivilege) or "row-level security" in text:
            if self._kind == "researcher":
                return StoreError(f"not permitted on {self.path}: {self._actor_or_unknown()} is a researcher, who "
                                  "reads only de-identified exports (ipt export --all --deidentify --key-file FILE)")
            return StoreError(f"not permitted on {self.path} for {self._actor_or_unknown()}: {text}; nothing was changed")
        if isinstance(exc, errors.UniqueViolation) and getattr(exc.diag, "constraint_name", None) == "clients_pkey":
            # Another clinician's client, which this role cannot see: the id is taken all the same.
            return StoreError(f"that client id is already in use on {self.path} (by a client you may not see): "
                              "choose another; nothing was changed")
        if isinstance(exc, errors.ReadOnlySqlTransaction):
            return StoreError(f"the server {self.path} is read-only (a standby?); nothing was changed")
        if isinstance(exc, errors.DiskFull):
            return StoreError(f"the server holding {self.path} is out of disk space; nothing was changed")
        if isinstance(exc, self._psycopg.OperationalError):
            return StoreError(f"lost the connection to {self.path}: {text}; nothing more was changed")
        if isinstance(exc, errors.RaiseException):  # the record's own guards (alerts never deleted, ...)
            return StoreError(f"refused by the record: {text}")
        return StoreError(f"database error on {self.path}: {text}")

    def _actor(self) -> str:
        """The server's ``session_user``: who connected, which no option or variable can change."""
        if self._who is None:
            # libpq's connected user is session_user, known without a query (so even inside a transaction
            # the server has already refused, a message can name who was refused).
            self._who = self._conn.raw.info.user or self._conn.raw.execute("SELECT session_user").fetchone()[0]
        return self._who

    def _actor_or_unknown(self) -> str:
        try:
            return self._actor()
        except Exception:
            return "this role"

    def _no_client(self, client_id: str) -> str:
        return f"no client {client_id!r} that you can see (see: ipt clients list)"

    def _no_alert(self, alert_id: int) -> str:
        return f"no alert {alert_id} that you can see (see: ipt alerts)"

    # -- staff and roles: the server decides (migrations_postgres 0011); this reads and asks ------------

    def _staff_kind(self) -> str:
        """What the connecting role is here: 'superuser', or the first of admin, supervisor, clinician,
        researcher whose group it is in, or 'none'."""
        if self._kind is None:
            row = self._conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = session_user").fetchone()
            if row and row[0]:
                self._kind = "superuser"
            else:
                rows = self._conn.execute(
                    "SELECT k FROM unnest(?::text[]) WITH ORDINALITY AS t(k, n)"
                    " WHERE pg_has_role(session_user, ipt_group_role(k), 'MEMBER') ORDER BY n",
                    (list(STAFF_KINDS),)).fetchall()
                self._kind = rows[0][0] if rows else "none"
        return self._kind

    def _check_clinician(self, conn: Any, name: str) -> None:
        """A course's clinician is the one who starts it or a member of staff who treats clients (an admin
        assigns anyone; the server's policies hold a clinician to their own name)."""
        if name == self._actor():
            return
        row = conn.execute("SELECT role FROM staff WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] == "researcher":
            raise UsageError(f"{name!r} is not a clinician on the staff of {self.path} (see: ipt staff list)")

    def _check_may_add_staff(self) -> None:
        if self._staff_kind() not in ("admin", "superuser"):
            raise StoreError(f"not permitted on {self.path}: only an admin adds staff ({self._actor()} is "
                             f"{'not on the staff' if self._kind == 'none' else 'a ' + str(self._kind)})")

    def _add_login(self, conn: Any, name: str, role: str) -> Optional[str]:
        """CREATE ROLE name LOGIN (no password: the clinic sets one, or uses peer or certificate
        authentication), then GRANT the role's group; an admin's new role may add staff in turn."""
        from psycopg import sql

        group = conn.execute("SELECT ipt_group_role(?)", (role,)).fetchone()[0]
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", (name,)).fetchone()
        raw = conn.raw
        if not exists:
            options = sql.SQL(" CREATEROLE") if role == "admin" else sql.SQL("")
            raw.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)) + options)
        elif role == "admin":
            raw.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(name)))
        raw.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
        how = "an existing login role" if exists else "a new login role with no password"
        return (f"{name} is {how} in {group}; set a password with ALTER ROLE (psql: \\password {name}), "
                "or use peer or certificate authentication")

    # -- looking after the record: the server's own tools (pg_dump, amcheck) do this for a server -------

    @staticmethod
    def inspect_file(path: Any) -> Any:
        """A read-only look at the record on the server, from one snapshot (see ``postgres_maintenance.py``)."""
        from .postgres_maintenance import inspect

        return inspect(str(path))

    @staticmethod
    def backup_file(source: Any, dest: Any, *, force: bool = False, step: Any = None) -> dict[str, int]:
        raise UsageError("ipt backup copies a SQLite record file; back up a PostgreSQL record with pg_dump "
                         "(or the server's own backups)")

    @staticmethod
    def recorded_outputs(path: Any) -> list[str]:
        """The files exports and reports were written to (audit entity "file"), read without any write."""
        from .postgres_maintenance import recorded_outputs

        return recorded_outputs(str(path))

    # -- schema ------------------------------------------------------------------------------------

    def pending_migrations(self) -> list[str]:
        applied = self._applied()
        return [name for name, _ in MIGRATIONS if name not in applied]

    def _applied(self) -> set[str]:
        exists = self._conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return set()
        return {r[0] for r in self._conn.execute("SELECT name FROM schema_migrations")}

    def migrate(self, *, only_if_permitted: bool = False) -> list[str]:
        """Apply every migration not yet applied, each in its own transaction, under a lock so two never race.

        With ``only_if_permitted`` (opening the store) a role that may not change the schema (a clinician)
        skips them; :meth:`_check_schema` then says an admin must run ``ipt db upgrade``."""
        psycopg = self._psycopg
        done: list[str] = []
        raw = self._conn.raw
        try:
            if not self.pending_migrations():
                return done
            raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        except psycopg.Error as exc:
            raise self._translate(exc) from None
        try:
            raw.execute("BEGIN")
            raw.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            raw.execute("COMMIT")
            for name, sql in MIGRATIONS:
                if name in self._applied():
                    continue
                with self._transaction() as conn:
                    conn.raw.execute(sql)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, now()))
                done.append(name)
        except (psycopg.errors.InsufficientPrivilege, StoreError) as exc:
            self._rollback()
            if only_if_permitted and (isinstance(exc, psycopg.errors.InsufficientPrivilege)
                                      or "not permitted" in str(exc)):
                return done
            raise exc if isinstance(exc, StoreError) else self._translate(exc) from None
        except psycopg.Error as exc:
            self._rollback()
            raise self._translate(exc) from None
        finally:
            try:
                raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
            except psycopg.Error:
                pass
        return done

    def _check_schema(self) -> None:
        applied = self._applied()
        known = {name for name, _ in MIGRATIONS}
        unknown = applied - known
        if unknown:
            raise StoreError(f"{self.path} was written by a newer ipt-measures (schema {sorted(unknown)[-1]}); "
                             "upgrade ipt-measures to open it")
        pending = [name for name, _ in MIGRATIONS if name not in applied]
        if pending:
            raise StoreError(f"{self.path} needs its schema upgraded to {pending[-1]}: an admin runs "
                             f"`ipt db upgrade --db {self.path}`")

    def schema_version(self) -> str:
        row = self._conn.execute(
            f"SELECT name FROM schema_migrations ORDER BY name{self._text_order} DESC LIMIT 1").fetchone()
        return row[0] if row else "none"

    # -- the export stream: a server-side cursor inside one read-only snapshot --------------------------

    @contextmanager
    def export_rows(self, client_ids: Optional[list[str]] = None, *, order_key: Optional[Callable[[str], str]] = None,
                    batch: int = 500) -> Iterator[Iterator[list[tuple]]]:
        """Batches of completed administrations in :data:`EXPORT_COLUMNS` order, from one REPEATABLE READ
        snapshot, read ``batch`` rows at a time through a server-side cursor (memory stays flat on the client
        and the server sends rows as they are fetched); a few clients' rows (:data:`FEW_CLIENTS`) come from
        one statement in one round trip. ``order_key`` (pseudonyms for a de-identified export)
        is computed here and sent with the query, since the server cannot call Python."""
        from psycopg.rows import tuple_row

        where, params = _export_client_filter(client_ids)
        sql = EXPORT_SELECT + where
        if self._researcher():
            sql, params = self._research_rows(client_ids, order_key)
            order = ""
        elif order_key is not None:
            ids = client_ids if client_ids is not None else [r[0] for r in self._conn.execute("SELECT id FROM clients")]
            sql = sql.replace("LEFT JOIN scores sc", "JOIN unnest(?::text[], ?::text[]) AS ord(client, key)"
                              " ON ord.client = c.id\nLEFT JOIN scores sc", 1)
            params = [list(ids), [order_key(i) for i in ids], *params]
            order = f" ORDER BY ord.key{self._text_order}, c.id{self._text_order}"
        else:
            order = f" ORDER BY c.id{self._text_order}"
        if order:
            order += ", co.start_date, co.id, s.number, a.id"
        raw = self._conn.raw
        if client_ids is not None and len(client_ids) <= FEW_CLIENTS:
            # A few clients' rows: one statement (a snapshot by itself), read at once, in one round trip.
            try:
                cursor = raw.cursor(row_factory=tuple_row)
                cursor.execute(placeholders(sql + order), params or None)
            except self._psycopg.Error as exc:
                raise self._translate(exc) from None
            if tuple(d.name for d in cursor.description) != EXPORT_COLUMNS:
                raise RuntimeError("the export query's columns are not EXPORT_COLUMNS")
            rows = cursor.fetchall()
            yield iter([rows[i:i + batch] for i in range(0, len(rows), batch)])
            return
        began = not self._conn.in_transaction
        if began:
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor = raw.cursor(name=f"ipt_export_{id(self)}_{len(self._streams)}", row_factory=tuple_row)
        cursor.itersize = batch
        self._streams.add(cursor)
        try:
            try:
                cursor.execute(placeholders(sql + order), params or None)
            except self._psycopg.Error as exc:
                raise self._translate(exc) from None
            if tuple(d.name for d in cursor.description) != EXPORT_COLUMNS:
                raise RuntimeError("the export query's columns are not EXPORT_COLUMNS")
            yield _batches(cursor, batch)
        finally:
            self._streams.discard(cursor)
            if not self._closed:
                try:
                    if began and self._conn.in_transaction:
                        raw.execute("COMMIT")  # the cursor goes with its transaction: no CLOSE round trip
                    cursor.close()
                except self._psycopg.Error:
                    self._rollback()

    # -- a researcher's export: pseudonymised rows from ipt_research's functions, never the tables ---------

    def _researcher(self) -> bool:
        return self._staff_kind() == "researcher"

    def _research_rows(self, client_ids: Optional[list[str]],
                       order_key: Optional[Callable[[str], str]]) -> tuple[str, list[Any]]:
        """The export query of a researcher: every client, de-identified (the only export a researcher may
        make), ordered by the caller's pseudonym of the server's pseudonym, as any de-identified export is."""
        if client_ids is not None or order_key is None:
            raise StoreError(f"not permitted on {self.path}: a researcher exports every client de-identified, "
                             "and nothing else (ipt export --all --deidentify --key-file FILE)")
        pseudonyms = [r[0] for r in self._query("SELECT ipt_research.pseudonyms()")]
        columns = ", ".join(f"r.{c}" for c in EXPORT_COLUMNS)
        return (f"SELECT {columns} FROM ipt_research.export_rows() r JOIN unnest(?::text[], ?::text[])"
                " AS ord(client, key) ON ord.client = r.client_id"
                " ORDER BY ord.key, r.client_id, r.start_date, r.course_id, r.session_number, r.administration_id",
                [pseudonyms, [order_key(p) for p in pseudonyms]])

    def export_instrument_ids(self, client_ids: Optional[list[str]] = None) -> list[str]:
        if not self._researcher():
            return super().export_instrument_ids(client_ids)
        return [r[0] for r in self._query(
            "SELECT DISTINCT instrument_id FROM ipt_research.export_rows() ORDER BY instrument_id")]

    def export_count(self, client_ids: Optional[list[str]] = None) -> int:
        if not self._researcher():
            return super().export_count(client_ids)
        return self._query("SELECT count(*) FROM ipt_research.export_rows()")[0][0]

    def export_responses(self, administration_ids: list[int]) -> dict[int, list[dict]]:
        if not self._researcher():
            return super().export_responses(administration_ids)
        result: dict[int, list[dict]] = {}
        for row in self._query("SELECT * FROM ipt_research.export_responses(?::bigint[])", (list(administration_ids),)):
            result.setdefault(row[0], []).append({"item_id": row[1], "value": row[2], "status": row[3]})
        return result

    def export_amendments(self, client_ids: list[str]) -> list[dict]:
        if not self._researcher():
            return super().export_amendments(client_ids)
        return [dict(r) for r in self._query("SELECT * FROM ipt_research.export_amendments(?::text[])",
                                             (list(client_ids),))]

    def alerts(self, client_id: Optional[str] = None, *, include_acknowledged: bool = False,
               course_id: Optional[int] = None, after_id: Optional[int] = None) -> list[dict]:
        if not self._researcher() or client_id is None or course_id is not None or after_id is not None:
            return super().alerts(client_id, include_acknowledged=include_acknowledged, course_id=course_id,
                                  after_id=after_id)
        # A de-identified export's alerts (exporting._Alerts asks client by client): the client is the server's
        # pseudonym. Every alert is read once, in the export's snapshot, and handed out by pseudonym.
        if self._research_alerts is None:
            self._research_alerts = {}
            for row in self._query("SELECT * FROM ipt_research.alerts()"):
                self._research_alerts.setdefault(row["client_id"], []).append(dict(row))
        rows = self._research_alerts.get(client_id, [])
        return rows if include_acknowledged else [r for r in rows if r["status"] == "open"]

    def completed_administration_ids(self, administration_ids: Iterable[int]) -> set[int]:
        if not self._researcher():
            return super().completed_administration_ids(administration_ids)
        if self._research_completed is None:  # read once per export, as the alerts are
            self._research_completed = {r[0] for r in self._query(
                "SELECT administration_id FROM ipt_research.export_rows()")}
        return self._research_completed & set(administration_ids)

    # -- bulk and statistics -------------------------------------------------------------------------

    def bulk_import(self, records: Any, batch_size: int = 2000, counts: Optional[dict] = None) -> dict[str, int]:
        """Store completed, scored administrations in bulk, a batch per transaction, each table written with
        COPY (see :func:`.bulk.bulk_import` and ``postgres_bulk.py``)."""
        from .bulk import bulk_import
        from .postgres_bulk import PostgresWriter

        return bulk_import(self, PostgresWriter(), records, batch_size, counts)

    def imported_answers(self, keys: list[str]) -> dict[str, tuple[int, dict]]:
        from .bulk import imported_answers

        return imported_answers(self, keys)

    def stored_import_keys(self, keys: list[str]) -> set[str]:
        from .postgres_bulk import PostgresWriter

        return PostgresWriter().stored_import_keys(self._conn, keys)

    def analyze(self) -> None:
        """Refresh the planner's statistics after bulk work; a role that may not (a clinician) leaves it to
        autovacuum, which does the same a little later."""
        try:
            self._conn.raw.execute("ANALYZE")
        except self._psycopg.Error:
            self._rollback()


def _batches(cursor: Any, size: int) -> Iterator[list[tuple]]:
    """A server-side cursor's rows ``size`` at a time; a short batch is the last (no FETCH to learn so)."""
    while True:
        rows = cursor.fetchmany(size)
        if rows:
            yield rows
        if len(rows) < size:
            return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return re.sub(r"\s+", " ", text[0]) if text else type(exc).__name__
