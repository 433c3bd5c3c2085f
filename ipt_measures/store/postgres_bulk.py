"""PostgreSQL's part of a bulk import (``bulk.py``): keys looked up for each batch, ids drawn from the
identity sequences, one ``COPY ... FROM STDIN`` per table."""

from __future__ import annotations

from typing import Any, Iterator

from .bulk import COLUMNS, Known

class PostgresWriter:
    """Another clinician may write between two batches, and only the batch's own keys matter: they are looked
    up afresh in each batch's transaction (three indexed queries), after the write lock is taken."""

    def known(self, conn: Any, batch: list[dict]) -> Known:
        client_ids = list({r["client_id"] for r in batch})
        clients = {r[0] for r in conn.execute("SELECT id FROM clients WHERE id = ANY(?)", (client_ids,))}
        courses = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT client_id, start_date, id FROM courses WHERE client_id = ANY(?)", (client_ids,))}
        sessions = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT course_id, number, id FROM sessions WHERE course_id = ANY(?)", (list(courses.values()),))}
        return Known(clients, courses, sessions)

    def forget(self) -> None:
        pass  # nothing is kept between batches

    def ids(self, conn: Any, table: str, needed: int) -> Iterator[int]:
        """Ids from the table's identity sequence, all ``needed`` in one round trip when the first is taken
        (never max(id) + 1: an insert elsewhere takes the sequence's next value and can never collide). Ids
        fetched and not used are a gap, as a rolled-back transaction leaves one."""
        while True:  # one row holding an array: quicker to read than a row per id
            yield from conn.execute("SELECT array_agg(nextval(pg_get_serial_sequence(?, 'id')))"
                                    " FROM generate_series(1, ?)", (table, max(needed, 1))).fetchone()[0]

    def stored_import_keys(self, conn: Any, keys: list[str]) -> set[str]:
        """Which of these import keys are stored: one query, the keys sent as one array."""
        return {r[0] for r in conn.execute("SELECT import_key FROM administrations WHERE import_key = ANY(?)", (keys,))}

    def write(self, conn: Any, rows: dict[str, list[tuple]]) -> None:
        cursor = conn.raw.cursor()
        for table, columns in COLUMNS.items():
            if rows[table]:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)
