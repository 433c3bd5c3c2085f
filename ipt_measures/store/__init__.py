"""The record store: clients, courses, sessions, administrations, responses, scores and the audit trail.

``open_store()`` opens the embedded SQLite default (the file named by ``--db``, ``$IPT_DB``, or ``ipt.db``
in the data directory). The services use only the methods of :class:`SQLiteStore`, so a second engine
(PostgreSQL for a clinic sharing one record) can implement the same interface without touching them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .sqlite import SQLiteStore

__all__ = ["open_store", "SQLiteStore"]


def open_store(path: Optional[str | Path] = None, *, create: bool = True) -> SQLiteStore:
    """Open (creating and migrating if needed) the record store."""
    from ..paths import database_path

    return SQLiteStore(Path(path) if path else database_path(), create=create)
