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


def open_store(db_path):
    """Open the record store for a command; errors become one-line messages through IptError."""
    from ..store import open_store as _open

    return _open(db_path)
