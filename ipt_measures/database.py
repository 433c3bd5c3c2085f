"""The record's database itself: ``ipt db upgrade`` (apply pending migrations) and ``ipt db copy`` (a solo
SQLite record moved into a clinic's PostgreSQL server, verified before it is kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from .errors import UsageError


def upgrade(location: Optional[str | Path] = None) -> dict:
    """Apply the migrations the record has not had yet, on either engine; returns the database, its engine,
    the migrations applied (none when it was current) and the version it is now at."""
    from .paths import database_path
    from .store import upgrade_record

    store, applied = upgrade_record(location or database_path())
    with store:
        return {"database": str(store.path), "engine": store.engine, "applied": applied,
                "version": store.schema_version()}


def copy(source: str | Path, target: str) -> dict:
    """Copy the SQLite record ``source`` into the empty PostgreSQL database ``target``, in one transaction,
    and verify it before it commits: every table's row count and a digest of its rows (the audit's too), the
    schema version, and every completed administration's current score re-computed from the copied answers
    (as ``ipt doctor`` does). Any difference keeps nothing. Returns the tables with their rows and digests."""
    from .maintenance import FAIL, score_check
    from .store import is_server, open_store
    from .store.postgres_copy import copy_into

    if is_server(source):
        raise UsageError("--from takes a SQLite record file (ipt db copy moves a solo record into a server)")
    if not is_server(target):
        raise UsageError("--to takes a postgresql:// location (create an empty database on the server first)")
    source = Path(source)
    if not source.is_file():
        raise UsageError(f"no SQLite record at {source}")
    checked: dict = {}

    def verify(administrations: Iterator[dict]) -> Optional[str]:
        checked.update(score_check(administrations))
        return checked["detail"] if checked["status"] == FAIL else None

    with open_store(target) as store:
        result = copy_into(source, store, verify)
        result.update(source=str(source), target=str(store.path), scores=checked.get("detail", ""))
    return result

