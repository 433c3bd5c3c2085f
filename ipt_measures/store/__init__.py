"""The record store: clients, courses, sessions, administrations, responses, scores and the audit trail.

``open_store()`` opens the record named by ``--db`` or ``$IPT_DB``: a SQLite file (the embedded default,
``ipt.db`` in the data directory) or a ``postgresql://`` server shared by a clinic. The services use only
the methods of the :class:`Store` interface (``base.py``), which :class:`SQLiteStore` and
:class:`~ipt_measures.store.postgres.PostgresStore` implement with the same statements (``sql.py``). Only
this package speaks SQL; psycopg is imported only when a server is named.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import StoreError
from .base import Store
from .sqlite import SQLiteStore

__all__ = ["open_store", "is_server", "inspect_record", "backup_record", "Store", "SQLiteStore"]


def is_server(location: Any) -> bool:
    """Whether ``location`` (a ``--db`` or ``$IPT_DB`` value) names a PostgreSQL server, not a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(("postgresql://", "postgres://"))


def open_store(path: Optional[str | Path] = None, *, create: bool = True) -> Store:
    """Open (creating and migrating if needed) the record store: a SQLite file or a ``postgresql://`` server."""
    from ..paths import database_path

    location = path if path else database_path()
    if is_server(location):
        try:
            from .postgres import PostgresStore
        except ImportError:  # pragma: no cover - psycopg missing
            raise StoreError("a postgresql:// record needs psycopg: pip install 'ipt-measures[postgres]'") from None
        return PostgresStore(str(location))
    return SQLiteStore(Path(location), create=create)


def inspect_record(path: Path) -> AbstractContextManager[Any]:
    """A read-only look at the record at ``path`` for ``ipt doctor`` (see :meth:`Store.inspect_file`)."""
    return SQLiteStore.inspect_file(path)


def backup_record(source: Path, dest: Path, *, force: bool = False,
                  step: Optional[Callable[[], None]] = None) -> dict[str, int]:
    """A consistent copy of the record at ``source`` for ``ipt backup`` (see :meth:`Store.backup_file`)."""
    return SQLiteStore.backup_file(source, dest, force=force, step=step)
