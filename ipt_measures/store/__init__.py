"""The record store: clients, courses, sessions, administrations, responses, scores and the audit trail.

``open_store()`` opens the embedded SQLite default (the file named by ``--db``, ``$IPT_DB``, or ``ipt.db``
in the data directory). The services use only the methods of the :class:`Store` interface (``base.py``),
which :class:`SQLiteStore` implements, so a second engine (PostgreSQL for a clinic sharing one record) can
implement the same interface without touching them. Only this package speaks SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Optional

from .base import Store
from .sqlite import SQLiteStore

__all__ = ["open_store", "inspect_record", "backup_record", "Store", "SQLiteStore"]


def open_store(path: Optional[str | Path] = None, *, create: bool = True) -> SQLiteStore:
    """Open (creating and migrating if needed) the record store."""
    from ..paths import database_path

    return SQLiteStore(Path(path) if path else database_path(), create=create)


def inspect_record(path: Path) -> AbstractContextManager[Any]:
    """A read-only look at the record at ``path`` for ``ipt doctor`` (see :meth:`Store.inspect_file`)."""
    return SQLiteStore.inspect_file(path)


def backup_record(source: Path, dest: Path, *, force: bool = False,
                  step: Optional[Callable[[], None]] = None) -> dict[str, int]:
    """A consistent copy of the record at ``source`` for ``ipt backup`` (see :meth:`Store.backup_file`)."""
    return SQLiteStore.backup_file(source, dest, force=force, step=step)
