"""Where ipt-measures keeps its files: the data directory, the record database, the user's instruments."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ipt-measures"


def data_dir() -> Path:
    """``$IPT_DATA_DIR`` if set, else the platform's per-user data directory."""
    override = os.environ.get("IPT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def database_path() -> Path | str:
    """``$IPT_DB`` if set, else ``ipt.db`` in the data directory (``--db`` overrides both).

    A ``postgresql://`` location (a clinic's shared record) is returned as it is, a string: it is not a path."""
    override = os.environ.get("IPT_DB")
    if override and override.lower().startswith(("postgresql://", "postgres://")):
        return override
    return Path(override).expanduser() if override else data_dir() / "ipt.db"


def instruments_dir() -> Path:
    """``$IPT_INSTRUMENTS_DIR`` if set, else ``instruments/`` in the data directory."""
    override = os.environ.get("IPT_INSTRUMENTS_DIR")
    return Path(override).expanduser() if override else data_dir() / "instruments"
