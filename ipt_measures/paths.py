"""Where ipt-measures keeps its files: the data directory, the record database, the user's instruments."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "ipt-measures"


def data_dir() -> Path:
    """``$IPT_DATA_DIR`` if set, else the platform's per-user data directory."""
    override = os.environ.get("IPT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return user_dir("data")


# The XDG Base Directory Specification (0.8): each variable, and the default when it is unset, empty or not an
# absolute path ("an implementation ... should consider the path invalid and ignore it").
_XDG = {"data": ("XDG_DATA_HOME", ".local/share"), "cache": ("XDG_CACHE_HOME", ".cache")}


def user_dir(kind: str) -> Path:
    """This application's per-user ``data`` or ``cache`` folder, as platformdirs names it.

    On Linux and the BSDs that is the XDG Base Directory Specification, read here directly: importing platformdirs
    costs about 7 ms, paid by every command for one environment variable. Elsewhere (macOS, Windows, Android,
    or a home folder that is not an absolute path) platformdirs decides. tests/test_paths.py checks both agree."""
    variable, default = _XDG[kind]
    home = os.environ.get("HOME", "")
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not _android() and \
            os.path.isabs(home):
        base = os.environ.get(variable, "")
        return Path(base if os.path.isabs(base) else os.path.join(home, default), APP_NAME)
    import platformdirs

    found = {"data": platformdirs.user_data_dir, "cache": platformdirs.user_cache_dir}[kind]
    return Path(found(APP_NAME, appauthor=False))


def _android() -> bool:
    return hasattr(sys, "getandroidapilevel") or "ANDROID_DATA" in os.environ or "ANDROID_ROOT" in os.environ


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
