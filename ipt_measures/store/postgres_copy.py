"""``ipt db copy``: a solo SQLite record moved into an empty PostgreSQL record, in one transaction, verified.

Every table is read from one read-only snapshot of the file and written with ``COPY``, ids kept (each
identity sequence is then moved past the largest id, so the next new row can never collide), answers in
the order they were entered. Before the transaction commits, each table is read back on the server and
compared with the file (its row count and a digest of every row, the audit included), the schema versions
are compared, and the caller's check (``verify``: ``ipt doctor``'s re-scoring of every completed
administration) runs on the copied rows. Any difference rolls everything back: the target is left as it
was, empty, and the copy can simply be run again. A target holding anything is never written to.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from ..errors import StoreError, UsageError

# The tables in the order references allow (parents first), found in the server's catalogue so a table a
# later migration adds is copied without a change here.
_TABLES = """
WITH RECURSIVE t AS (
    SELECT c.oid, c.relname::text AS name FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
), deps AS (
    SELECT t.oid, t.name, 0 AS depth FROM t
    UNION ALL
    SELECT t.oid, t.name, deps.depth + 1 FROM deps
    JOIN pg_constraint k ON k.confrelid = deps.oid AND k.contype = 'f' AND k.conrelid <> k.confrelid
    JOIN t ON t.oid = k.conrelid
    WHERE deps.depth < 50
)
SELECT name FROM deps GROUP BY name ORDER BY max(depth), name
"""


def _key(conn: Any, table: str, engine: str) -> str:
    """The order rows are read in on both engines: the primary key; responses in the order they were entered."""
    if table == "responses":
        return "entry_order" if engine == "postgresql" else "rowid"
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (table,)).fetchall()
    if not rows:
        raise StoreError(f"table {table} has no primary key to copy it in order")
    return ", ".join(f'"{r[0]}"' for r in rows)


def _digest(rows: Iterable[tuple], count: list[int]) -> Iterator[tuple]:
    """Pass rows through, counting them (``count[0]``) and hashing them (``count[1]``, a sha256 object)."""
    for row in rows:
        count[0] += 1
        count[1].update(json.dumps(list(row), default=str).encode())
        count[1].update(b"\n")
        yield row


def copy_into(source: Path, store: Any, verify: Optional[Callable[[Iterator[dict]], Optional[str]]] = None,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """Copy the SQLite record at ``source`` into the empty PostgreSQL record ``store`` (a PostgresStore opened
    by its owner, schema current); see the module docstring. Returns per table: rows and digest."""
    from .migrations import MIGRATIONS
    from .postgres_maintenance import Streaming
    from .sql import scored_administrations
    from .sqlite_maintenance import _open_read_only

    if not source.is_file():
        raise UsageError(f"no SQLite record at {source}")
    try:
        lite = _open_read_only(source)
        lite.execute("BEGIN")  # one snapshot of the file for the whole copy
        applied = [r[0] for r in lite.execute("SELECT name FROM schema_migrations ORDER BY name")]
    except Exception as exc:  # not a SQLite file, or not an ipt-measures record
        raise UsageError(f"{source} is not an ipt-measures SQLite record ({exc})") from None
    try:
        known = [name for name, _ in MIGRATIONS]
        if applied != sorted(known):
            newer = sorted(set(applied) - set(known))
            raise UsageError(f"{source} was written by a newer ipt-measures (schema {newer[-1]}); upgrade ipt-measures"
                             if newer else f"{source} needs its schema upgraded first: ipt db upgrade --db {source}")
        with store._transaction() as conn:
            raw = conn.raw
            tables = [r[0] for r in raw.execute(_TABLES).fetchall()]
            held = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            if any(held.values()):
                shown = ", ".join(f"{n} {t}" for t, n in held.items() if n)
                raise UsageError(f"{store.path} already holds a record ({shown}): ipt db copy fills only an empty "
                                 "database, never merges into or replaces one")
            lite_tables = {r[0] for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name <> 'schema_migrations'")}
            if lite_tables - set(tables):
                raise StoreError(f"the server's schema lacks table(s) {', '.join(sorted(lite_tables - set(tables)))}")
            result: dict[str, dict] = {}
            for table in tables:
                if progress:
                    progress(table)
                pg_columns = [r[0] for r in raw.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                    " AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()]
                lite_columns = {r[1] for r in lite.execute(f"PRAGMA table_info({table})")}
                columns = [c for c in pg_columns if c in lite_columns]
                names = ", ".join(f'"{c}"' for c in columns)
                counted = [0, hashlib.sha256()]
                rows = lite.execute(f"SELECT {names} FROM {table} ORDER BY {_key(raw, table, 'sqlite')}")
                with raw.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in _digest(rows, counted):
                        copy.write_row(row)
                result[table] = {"rows": counted[0], "digest": counted[1].hexdigest(), "columns": names}
            # Every identity moves past the largest id copied: the next row added on the server takes the next one.
            for table in tables:
                for (sequence, column) in raw.execute(
                        "SELECT pg_get_serial_sequence(%s, a.attname), a.attname FROM pg_attribute a"
                        " WHERE a.attrelid = %s::regclass AND a.attidentity <> ''", (table, table)).fetchall():
                    if column == "entry_order":
                        continue  # assigned by COPY itself, in entry order
                    raw.execute(f'SELECT setval(%s, coalesce((SELECT max("{column}") FROM {table}), 0) + 1, false)',
                                (sequence,))
            # Read back every table and compare, before anything commits.
            for table in tables:
                counted = [0, hashlib.sha256()]
                cursor = raw.cursor(name=f"ipt_copy_check_{table}")
                cursor.itersize = 5000
                cursor.execute(f"SELECT {result[table]['columns']} FROM {table} ORDER BY {_key(raw, table, 'postgresql')}")
                for _ in _digest(cursor, counted):
                    pass
                cursor.close()
                if counted[0] != result[table]["rows"] or counted[1].hexdigest() != result[table]["digest"]:
                    raise StoreError(f"the copy of table {table} does not match {source} ({counted[0]} rows copied, "
                                     f"{result[table]['rows']} in the file); nothing was kept")
            server_applied = [r[0] for r in raw.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
            if server_applied != applied:
                raise StoreError(f"the server's schema ({server_applied[-1]}) is not the file's ({applied[-1]}); "
                                 "nothing was kept")
            problem = verify(scored_administrations(Streaming(raw))) if verify else None
            if problem:
                raise StoreError(f"the copied record fails its check: {problem}; nothing was kept")
            counts = {t: result[t]["rows"] for t in tables}
            store._audit(conn, None, "record copied", "database", None,
                         new=f"from {source.resolve()}: {counts.get('clients', 0)} clients, "
                             f"{counts.get('administrations', 0)} administrations, audit of {counts.get('audit', 0)} rows kept")
    finally:
        lite.close()
    for entry in result.values():
        entry.pop("columns")
    return {"tables": result, "schema": applied[-1] if applied else "none"}

