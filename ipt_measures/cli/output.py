"""Shared output options for every listing command: ``--json`` or a tabulate table format."""

from __future__ import annotations

import io
import json
import re
import sys
from contextlib import contextmanager
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
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str):
        # One line per row: a stored newline or carriage return would start a forged row of its own.
        return terminal_safe(value).replace("\n", "\\u000a").replace("\t", "\\u0009")
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


# -- terminal safety ------------------------------------------------------------------------------------

# What click.style writes for the colours and weights the CLI uses (SGR: reset, bold, normal weight,
# foreground colours, default colour) and what click's progress bar writes (a carriage return with "hide
# the cursor", then "show the cursor"); any other escape sequence is escaped, whoever wrote it.
_OWN_STYLE = re.compile(r"\x1b\[(?:0|1|2|22|39|3[0-7]|9[0-7])m|\r\x1b\[\?25l|\x1b\[\?25h")
# Characters never written raw: C0 controls but newline and tab (a carriage return or backspace rewrites
# what is on screen, ESC starts a terminal command), DEL, C1 controls, and the invisible format characters
# that change how text reads: bidirectional overrides and isolates ("Trojan Source", CVE-2021-42574),
# zero-width spaces, the byte-order mark, line and paragraph separators. ZWNJ/ZWJ (U+200C/D) stay: names in
# Persian, Indic scripts and emoji need them and they move nothing.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def terminal_safe(text: str) -> str:
    """Text as it may be written to a terminal: each control or invisible format character replaced by
    its ``\\uXXXX`` escape (also valid inside a JSON string), the CLI's own colour codes kept.

    The one function every printer goes through (:func:`escaped_output` puts it under stdout and stderr
    for every command), so a client id, display name, note or imported text holding ``ESC[2J``, a
    carriage return or U+202E cannot clear the screen, overwrite a line or reverse what is shown.
    """
    if not _UNSAFE.search(text):
        return text
    out, last = [], 0
    for own in _OWN_STYLE.finditer(text):
        out.append(_UNSAFE.sub(_escape, text[last:own.start()]))
        out.append(own.group())
        last = own.end()
    out.append(_UNSAFE.sub(_escape, text[last:]))
    return "".join(out)


def _escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


class _EscapedStream(io.TextIOBase):
    """A text stream that passes everything written through :func:`terminal_safe`."""

    def __init__(self, stream):
        self.unescaped = stream

    def write(self, text):
        if isinstance(text, str):
            text = terminal_safe(text)
        return self.unescaped.write(text)

    def flush(self):
        return self.unescaped.flush()

    def isatty(self):
        return self.unescaped.isatty()

    def fileno(self):
        return self.unescaped.fileno()

    def writable(self):
        return True

    @property
    def encoding(self):
        return getattr(self.unescaped, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.unescaped, "errors", "strict")


@contextmanager
def escaped_output():
    """For the length of a command, everything written to stdout and stderr through :func:`terminal_safe`."""
    saved = sys.stdout, sys.stderr
    if sys.stdout is not None and not isinstance(sys.stdout, _EscapedStream):
        sys.stdout = _EscapedStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, _EscapedStream):
        sys.stderr = _EscapedStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def raw_stdout():
    """Standard output for data a command was asked to write there (``ipt export`` with no -o): unescaped
    into a file or pipe, escaped on a terminal."""
    stream = sys.stdout
    if isinstance(stream, _EscapedStream) and not stream.isatty():
        return stream.unescaped
    return stream
