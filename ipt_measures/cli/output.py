"""Shared output options for every listing command: ``--json`` or a tabulate table format."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

import click

DEFAULT_FORMAT = "simple"
# Table formats a user pastes or opens in a spreadsheet: their text cells follow the CSV cell rule
# (exchange/cells.py, OWASP CSV injection), so none starts a formula.
SPREADSHEET_FORMATS = frozenset({"tsv"})


def output_options(func: Callable) -> Callable:
    """Add ``--json`` and ``--fmt`` to a listing command."""
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)
    func = click.option(
        "--fmt",
        "table_format",
        default=DEFAULT_FORMAT,
        show_default=True,
        metavar="FORMAT",
        help="Table format: any tabulate format (simple, github, grid, plain, ...).",
    )(func)
    return func


def emit(rows: Sequence[dict[str, Any]], *, as_json: bool, table_format: str, columns: Iterable[str] | None = None) -> None:
    """Print rows as JSON or as a table; the JSON has every field, the table the chosen columns."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2, ensure_ascii=False, default=str))
        return
    from tabulate import tabulate

    check_table_format(table_format)
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    table = [[_cell(row.get(c)) for c in cols] for row in rows]
    if table_format in SPREADSHEET_FORMATS:
        from ..exchange.cells import text_cell

        table = [[text_cell(v) if isinstance(v, str) else v for v in row] for row in table]
    click.echo(tabulate(table, headers=cols, tablefmt=table_format) if rows else "(none)")


def check_table_format(table_format: str) -> None:
    """Refuse a --fmt that tabulate does not know, before any work is done."""
    from tabulate import tabulate_formats

    if table_format not in tabulate_formats:
        raise click.BadParameter(f"unknown table format {table_format!r}", param_hint="--fmt")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else value


def critical(message: str, *, banner: bool = False, err: bool = True) -> None:
    """A critical item (suicidality, self-harm...), the one way every command shows it.

    Red and bold, with '!!!'. ``err=True`` writes it to stderr, so a pipe or a redirect cannot hide it;
    ``banner=True`` also prints it framed on stdout, for the clinician watching an administration.
    """
    if banner:
        click.echo("")
        click.secho("!" * 72, fg="red", bold=True)
        click.secho(f"!!! CRITICAL: {message}", fg="red", bold=True)
        click.secho("!" * 72, fg="red", bold=True)
    if err:
        click.secho(f"!!! CRITICAL: {message}", fg="red", bold=True, err=True)


def open_alerts(alerts: Sequence[dict], client_id: str, *, err: bool = False) -> None:
    """A client's open alerts, the one way every command shows them: each open critical alert in red with
    what to do, then a count of the other open alerts. They stay in front of the clinician until someone
    acknowledges them (``ipt alerts ack``). ``err=True`` writes to stderr. (A command printing JSON
    includes them in its JSON instead.)"""
    still_open = [a for a in alerts if a.get("status", "open") == "open"]
    critical_ones = [a for a in still_open if a["severity"] == "critical"]
    for a in critical_ones:
        where = f"session {a['session_number']}, " if a.get("session_number") else ""
        click.secho(f"!! OPEN CRITICAL ALERT {a['id']} ({where}raised {a['raised_at'][:10]}): {a['message']}",
                    fg="red", bold=True, err=err)
    others = len(still_open) - len(critical_ones)
    if critical_ones:
        click.secho(f"   Until acknowledged: ipt alerts ack {critical_ones[0]['id']} --action \"what was done\"",
                    fg="red", err=err)
    if others:
        click.secho(f"{others} other open alert{'s' if others != 1 else ''}: ipt alerts {client_id}", fg="yellow",
                    err=err)
