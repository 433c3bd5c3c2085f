"""The PostgreSQL side of ``ipt doctor``: a read-only look at a server record, every answer from one snapshot.

The look runs in one REPEATABLE READ READ ONLY transaction, so it changes nothing and every figure (counts,
scores, answers) comes from the same moment however many clinicians write meanwhile. Rows are streamed
through server-side cursors. Each check runs under a savepoint: one that fails (a missing table, a function
the role may not call) says so without aborting the others. Every error leaves as StoreError, in one line.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import StoreError
from .sqlite_maintenance import TABLES_COUNTED

# Every single-column reference in the schema, found in the catalogue (so a new table's references are
# checked without a change here): child table, column, parent table, parent column.
_REFERENCES = """
SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, pa.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


class PostgresInspection:
    """A read-only look at a PostgreSQL record; each method raises StoreError if the server cannot answer it."""

    def __init__(self, conn: Any, shown: str):
        import psycopg

        self._conn = conn
        self._error = psycopg.Error
        self._shown = shown

    def _all(self, sql: str, params: Any = None) -> list:
        """Run one check's query under a savepoint, so its failure leaves the snapshot usable."""
        self._conn.execute("SAVEPOINT ipt_check")
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except self._error as exc:
            self._conn.execute("ROLLBACK TO SAVEPOINT ipt_check")
            raise StoreError(_first_line(exc)) from None
        self._conn.execute("RELEASE SAVEPOINT ipt_check")
        return rows

    def _amcheck(self) -> bool:
        return bool(self._all("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'"))

    def _indexes(self) -> list[str]:
        return [r[0] for r in self._all(
            "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace"
            " ORDER BY 1")]

    def integrity_method(self, quick: bool = False) -> str:
        """What :meth:`integrity_problems` checks on this server (amcheck when it is installed, and said so)."""
        if quick:
            return "no index check (--quick)"
        if not self._amcheck():
            return "no index check (amcheck is not installed; an admin runs: CREATE EXTENSION amcheck)"
        return f"amcheck bt_index_check of {len(self._indexes())} indexes"

    def integrity_problems(self, quick: bool = False) -> list[str]:
        """What amcheck's ``bt_index_check`` finds wrong in the record's indexes (nothing to run without amcheck,
        or with ``quick``); a role not permitted to run it is told so as a problem it can act on."""
        if quick or not self._amcheck():
            return []
        problems = []
        for index in self._indexes():
            try:
                self._all("SELECT bt_index_check(%s::regclass)", (index,))
            except StoreError as exc:
                problems.append(f"{index}: {exc}")
        return problems

    def broken_references(self) -> int:
        """Rows whose reference finds nothing (the server's foreign keys forbid them; a disabled trigger or a
        restore without them would not): every single-column foreign key in the schema, checked."""
        broken = 0
        for child, column, parent, key in self._all(_REFERENCES):
            broken += self._all(
                f'SELECT count(*) FROM {child} x WHERE x."{column}" IS NOT NULL AND NOT EXISTS'
                f' (SELECT 1 FROM {parent} p WHERE p."{key}" = x."{column}")')[0][0]
        return broken

    def applied_migrations(self) -> list[str]:
        """The migrations applied to this record, by name."""
        return [r[0] for r in self._all("SELECT name FROM schema_migrations ORDER BY name")]

    def counts(self) -> dict[str, int]:
        """Clients, administrations and responses held (those this role can see)."""
        return {t: self._all(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES_COUNTED}

    def in_progress(self) -> int:
        """How many administrations were left in progress."""
        return self._all("SELECT count(*) FROM administrations WHERE status = 'in-progress'")[0][0]

    def journal_mode(self) -> str:
        """The durability ipt's sessions get: ``synchronous_commit on`` (the store sets it), and whether the
        server syncs its log to disk at all (``fsync off`` loses committed work in a crash)."""
        fsync = self._all("SHOW fsync")[0][0]
        return "synchronous_commit on" + ("" if fsync == "on" else f", fsync {fsync}")

    def scored_administrations(self) -> Iterator[dict]:
        """Every completed administration with its current score and stored answers, streamed in id order."""
        from .sql import scored_administrations

        try:
            yield from scored_administrations(Streaming(self._conn))
        except self._error as exc:
            raise StoreError(_first_line(exc)) from None


class Streaming:
    """A connection whose ``execute`` gives a server-side cursor read 2,000 rows at a time (inside the
    caller's transaction): memory stays flat on the client, however large the record."""

    _names = itertools.count()

    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str) -> Any:
        from psycopg.rows import tuple_row

        cursor = self._conn.cursor(name=f"ipt_stream_{next(self._names)}", row_factory=tuple_row)
        cursor.itersize = 2000
        cursor.execute(sql)
        return cursor


@contextmanager
def inspect(location: str) -> Iterator[PostgresInspection]:
    """A read-only look at the record at a ``postgresql://`` location (StoreError, saying why, if unreachable)."""
    import psycopg

    from .postgres import check_location, display

    check_location(location)
    shown = display(location)
    try:
        conn = psycopg.connect(location, autocommit=True, application_name="ipt doctor", connect_timeout=15)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {shown}: {_first_line(exc)}") from None
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield PostgresInspection(conn, shown)
    finally:
        conn.close()


def recorded_outputs(location: str) -> list[str]:
    """The files exports and reports were written to (audit entity "file"), read in a read-only transaction."""
    with inspect(location) as record:
        return [r[0] for r in record._all("SELECT DISTINCT entity_id FROM audit WHERE entity = 'file'") if r[0]]


def _first_line(exc: BaseException) -> str:
    from .postgres import _first_line as first

    return first(exc)
