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

__all__ = ["open_store", "is_server", "inspect_record", "recorded_outputs", "backup_record", "upgrade_record", "Store", "SQLiteStore"]


def is_server(location: Any) -> bool:
    """Whether ``location`` (a ``--db`` or ``$IPT_DB`` value) names a PostgreSQL server, not a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(("postgresql://", "postgres://"))


def open_store(path: Optional[str | Path] = None, *, create: bool = True) -> Store:
    """Open (creating and migrating if needed) the record store: a SQLite file or a ``postgresql://`` server."""
    from ..paths import database_path

    location = path if path else database_path()
    if is_server(location):
        return _engine(location)(str(location))
    return SQLiteStore(Path(location), create=create)


def upgrade_record(location: str | Path) -> tuple[Store, list[str]]:
    """Open the record and apply every pending migration (``ipt db upgrade``): a SQLite file applies them as it
    opens; on a server only a role that may change the schema (its owner, an admin) can. Returns the open
    store and the migrations applied."""
    if not is_server(location):
        if not Path(location).exists():
            raise StoreError(f"no database at {location}")
        store = SQLiteStore(Path(location), create=False)
        return store, store.migrated
    store = _engine(location)(str(location), migrate=False)
    try:
        return store, store.migrate()
    except StoreError as exc:
        store.close()
        if str(exc).startswith("not permitted"):
            raise StoreError(f"{store._actor_or_unknown()} may not change the schema of {store.path}: the database's "
                             "owner (an admin) runs `ipt db upgrade`") from None
        raise
    except BaseException:
        store.close()
        raise


def _engine(location: Any) -> Any:
    """The store class for a location, without opening anything (psycopg imported only for a server)."""
    if is_server(location):
        try:
            from .postgres import PostgresStore
        except ImportError:  # pragma: no cover - psycopg missing
            raise StoreError("a postgresql:// record needs psycopg: pip install 'ipt-measures[postgres]'") from None
        return PostgresStore
    return SQLiteStore


def inspect_record(path: str | Path) -> AbstractContextManager[Any]:
    """A read-only look at the record at ``path`` (a file or a server) for ``ipt doctor`` (see :meth:`Store.inspect_file`)."""
    return _engine(path).inspect_file(path)


def recorded_outputs(path: str | Path) -> list[str]:
    """The files exports and reports were written to, from the record's audit (see :meth:`Store.recorded_outputs`)."""
    return _engine(path).recorded_outputs(path)


def backup_record(source: str | Path, dest: Path, *, force: bool = False,
                  step: Optional[Callable[[], None]] = None) -> dict[str, int]:
    """A consistent copy of the record at ``source`` for ``ipt backup`` (see :meth:`Store.backup_file`)."""
    return _engine(source).backup_file(source, dest, force=force, step=step)
