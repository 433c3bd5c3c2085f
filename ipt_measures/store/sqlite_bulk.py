"""SQLite's part of a bulk import (``bulk.py``): cached keys re-read when another process committed, ids
counted on from the largest, one ``executemany`` per table."""

from __future__ import annotations

import itertools
from typing import Any, Iterator, Optional

from .bulk import COLUMNS, Known, stored_import_keys


class SQLiteWriter:
    """Keeps every client, course and session key between batches; SQLite's ``data_version`` says when another
    process has committed meanwhile, and then they are read afresh inside the batch's transaction."""

    def __init__(self) -> None:
        self._known = Known()
        self._version: Optional[int] = None

    def known(self, conn: Any, batch: list[dict]) -> Known:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._known = Known(
                {r[0] for r in conn.execute("SELECT id FROM clients")},
                {(r[0], r[1]): r[2] for r in conn.execute("SELECT client_id, start_date, id FROM courses")},
                {(r[0], r[1]): r[2] for r in conn.execute("SELECT course_id, number, id FROM sessions")},
            )
            self._version = version
        return self._known

    def forget(self) -> None:
        self._version = None

    def ids(self, conn: Any, table: str, needed: int) -> Iterator[int]:
        # Safe under BEGIN IMMEDIATE: no other writer can take an id before this transaction commits.
        return itertools.count(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0] + 1)

    def stored_import_keys(self, conn: Any, keys: list[str]) -> set[str]:
        return stored_import_keys(conn, keys)

    def write(self, conn: Any, rows: dict[str, list[tuple]]) -> None:
        for table, columns in COLUMNS.items():
            if rows[table]:
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                 rows[table])
