"""Options shared by the commands that use the record: ``--db`` and opening the store."""

from __future__ import annotations

import click


class SafePath(click.Path):
    """click.Path that refuses a NUL byte in one line (click's own check raises ValueError from os.stat)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and "\x00" in value:
            self.fail("a file name cannot contain a NUL character", param, ctx)
        return super().convert(value, param, ctx)


def db_option(func):
    """Add ``--db PATH`` (default: the group's ``ipt --db PATH``, else $IPT_DB, else ipt.db in the data directory)."""
    return click.option(
        "--db",
        "db_path",
        type=SafePath(dir_okay=False),
        default=None,
        callback=_group_db,
        help="Database file (default: $IPT_DB, else ipt.db in the data directory).",
    )(func)


def _group_db(ctx: click.Context, param, value):
    """``ipt --db X caseload`` works as ``ipt caseload --db X`` does; the command's own --db wins."""
    return value if value is not None else ctx.find_root().params.get("db_path")


def stderr_progress():
    """The ``progress`` for library work (:mod:`ipt_measures.progress`): a bar on stderr when stderr is a
    terminal, nothing otherwise (a log file or a pipe gets no bar characters)."""
    import sys

    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if not terminal:
        return None
    return lambda stage, total: click.progressbar(length=total, label=stage, file=sys.stderr)


def open_store(db_path, *, create: bool = False):
    """Open the record store for a command; errors become one-line messages through IptError.

    A command that only reads never creates a database: ``ipt caseload --db typo.db`` is an error, not an
    empty record that says nobody is flagged. The few commands that can start a record (``clients add``,
    ``import``, ``demo``, ``serve``) pass ``create=True`` and say on stderr, once, that they created it.
    An empty ``--db ""`` is an error, never the default database.
    """
    from pathlib import Path

    from ..errors import StoreError, UsageError
    from ..paths import database_path
    from ..store import is_server
    from ..store import open_store as _open

    if db_path is not None and not str(db_path).strip():
        raise UsageError("--db is empty: give a database file, or leave --db out for the default")
    location = db_path if db_path else database_path()
    if is_server(location):
        return _open(str(location), create=create)  # a server record is created by its admin (ipt db upgrade)
    path = Path(location)
    existed = path.exists() or path.is_symlink()
    if not existed and not create:
        raise StoreError(f"no database at {path} (a command that only reads never creates one: check --db or $IPT_DB)")
    store = _open(path, create=create)
    if not existed:
        click.echo(f"Created the database {path} (owner-only).", err=True)
    return store
