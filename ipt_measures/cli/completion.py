"""Shell completion of client ids and instrument ids (commands and options complete through Click itself).

Attached by parameter name when the group loads a command, so every command that takes a ``client_id``,
``clients``, ``instrument_id`` or ``instruments`` argument completes it without each declaring it. Completion
never creates a database: with no record file there is simply nothing to offer.
"""

from __future__ import annotations

import click

CLIENT_PARAMS = ("client_id", "clients")
INSTRUMENT_PARAMS = ("instrument_id", "instruments")
NOT_EXISTING = ("add",)  # a new client's id is not one already in the record


def attach(command: click.Command) -> None:
    """Give ``command`` (and its subcommands) client-id and instrument-id completion."""
    for param in command.params:
        if not isinstance(param, click.Argument):
            continue
        if param.name in CLIENT_PARAMS and command.name not in NOT_EXISTING:
            param.shell_complete = _complete_clients  # an instance attribute: Click calls param.shell_complete
        elif param.name in INSTRUMENT_PARAMS:
            param.shell_complete = _complete_instruments
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach(sub)


def _complete_clients(ctx: click.Context, incomplete: str) -> list:
    from ..paths import database_path
    from ..store import is_server, open_store

    path = ctx.params.get("db_path") or ctx.find_root().params.get("db_path") or database_path()
    try:
        from pathlib import Path

        if not is_server(path) and not Path(path).is_file():  # never create a file; a server's database exists
            return []
        with open_store(path, create=False) as store:
            ids = [c["id"] for c in store.list_clients()]
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return _items(i for i in ids if i.startswith(incomplete))


def _complete_instruments(ctx: click.Context, incomplete: str) -> list:
    from ..plugins import get_registry

    try:
        ids = sorted(get_registry().instruments)
    except Exception:
        return []
    return _items(i for i in ids if i.startswith(incomplete.lower()))


def _items(values) -> list:
    from click.shell_completion import CompletionItem

    return [CompletionItem(v) for v in values]
