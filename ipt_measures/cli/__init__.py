"""The ``ipt`` command line: Click wiring only; every command calls one library function and formats it.

Command modules are imported when their command is used (or listed by ``--help``), and they import only
Click at top level, so start-up stays close to bare Python. ``ipt --version`` loads no plugins.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from .common import SafePath

# Command name -> "module:attribute", imported on first use. Each team owns its module.
COMMANDS = {
    # instruments and plugins (cli/instruments.py)
    "instruments": "ipt_measures.cli.instruments:instruments",
    "score": "ipt_measures.cli.instruments:score_command",
    "plugins": "ipt_measures.cli.instruments:plugins_command",
    "schemas": "ipt_measures.cli.instruments:schemas",
    # the clinical record and in-session administration (cli/record.py)
    "clients": "ipt_measures.cli.record:clients",
    "course": "ipt_measures.cli.record:course",
    "session": "ipt_measures.cli.record:session",
    "administer": "ipt_measures.cli.record:administer",
    "due": "ipt_measures.cli.record:due",
    "audit": "ipt_measures.cli.record:audit",
    "amend": "ipt_measures.cli.record:amend",
    # IPT's own terms: the interpersonal inventory and goals (cli/ipt.py)
    "inventory": "ipt_measures.cli.ipt:inventory",
    "goals": "ipt_measures.cli.ipt:goals",
    # alerts: open until acknowledged (cli/alerts.py)
    "alerts": "ipt_measures.cli.alerts:alerts",
    # the clinic's staff and their roles (cli/staff.py)
    "staff": "ipt_measures.cli.staff:staff",
    # change and clinical review (cli/review.py)
    "progress": "ipt_measures.cli.review:progress",
    "caseload": "ipt_measures.cli.review:caseload",
    "report": "ipt_measures.cli.review:report",
    # exports and imports (cli/exchange.py)
    "export": "ipt_measures.cli.exchange:export",
    "import": "ipt_measures.cli.exchange:import_command",
    # looking after the record (cli/maintenance.py)
    "demo": "ipt_measures.cli.maintenance:demo",
    "doctor": "ipt_measures.cli.maintenance:doctor",
    "backup": "ipt_measures.cli.maintenance:backup",
    # the record's database: schema upgrades, a solo record copied into a clinic server (cli/db.py)
    "db": "ipt_measures.cli.db:db",
    # the client's own screen (cli/web.py)
    "serve": "ipt_measures.cli.web:serve",
    "handover": "ipt_measures.cli.web:handover",
}


class LazyGroup(click.Group):
    """A group whose built-in commands are imported when used, and whose plugins add commands lazily."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})
        self._plugin_commands_loaded = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, name: str):
        if name in self.lazy_commands and name not in self.commands:
            module_name, attr = self.lazy_commands[name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return None  # that part of the product is not installed; tests/test_docs.py catches it
            command = getattr(module, attr)
            from .completion import attach

            attach(command)
            self.add_command(command, name)
        command = super().get_command(ctx, name)
        if command is None:
            self._load_plugin_commands()
            command = super().get_command(ctx, name)
        return command

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        from ..plugins import get_registry

        registry = get_registry()
        for impl in registry.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as exc:  # a broken plugin must not take the CLI down
                registry._info(impl.plugin_name).errors.append(
                    f"register_commands raised {type(exc).__name__}: {exc}"
                )

    def make_context(self, info_name, args, parent=None, **extra):
        # NO_COLOR (https://no-color.org): present and not empty means no ANSI colour, even on a terminal.
        if os.environ.get("NO_COLOR"):
            extra["color"] = False
        return super().make_context(info_name, args, parent=parent, **extra)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {' or '.join(repr(c) for c in close)}?")
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Under --json an error is JSON too (on stderr), so a program reading the output can parse it.
        ctx.meta["ipt.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        from .output import escaped_output

        # Every printer goes through cli/output.terminal_safe: stored text cannot drive the terminal.
        with escaped_output():
            try:
                return run_reporting_errors(lambda: super(LazyGroup, self).invoke(ctx),
                                            as_json=ctx.meta.get("ipt.json"))
            finally:
                if ctx.invoked_subcommand != "plugins":  # `ipt plugins` shows them in its table
                    _report_plugin_problems()


def _report_plugin_problems() -> None:
    """A broken plugin is never silent: one stderr line per problem, after any command that loaded plugins."""
    from .. import plugins

    registry = plugins._registry
    if registry is None:
        return
    # What is known so far, without collecting registrations just to report on them: a command that never
    # used an instrument need not pay for validating every one (load failures are always known).
    for info in registry.plugins.values():
        for error in info.errors:
            click.echo(f"ipt: plugin {info.name}: {error}", err=True)


def run_reporting_errors(call, as_json: bool = False):
    """Turn library errors into one line on stderr and an exit code; never a traceback unless IPT_DEBUG is set.

    With ``as_json`` the line is a JSON object, ``{"error": message, "exit_code": n}``.
    """
    from ..errors import IptError

    debug = bool(os.environ.get("IPT_DEBUG"))

    def fail(message: str, code: int):
        if as_json:
            import json

            click.echo(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False), err=True)
        else:
            click.echo(f"Error: {message}", err=True)
        sys.exit(code)

    try:
        return call()
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except click.ClickException as exc:
        if not as_json:
            raise
        fail(exc.format_message(), exc.exit_code)
    except IptError as exc:
        if debug:
            raise
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo("\nInterrupted. Every answer already given is saved.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if debug:
            raise
        name = type(exc).__name__
        if name == "ValidationError" and hasattr(exc, "errors"):
            from ..declarative import describe_validation_error

            fail("; ".join(describe_validation_error(exc)), 2)
        fail(f"unexpected {name}: {exc} (set IPT_DEBUG=1 to see the traceback)", 1)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ipt", message="%(prog)s %(version)s")
@click.option("--db", "db_path", type=SafePath(dir_okay=False), default=None, metavar="PATH",
              help="Database file for the command (as its own --db; default: $IPT_DB, else ipt.db in the data "
              "directory).")
def cli(db_path):
    """ipt: assessment and measurement for Interpersonal Psychotherapy (IPT).

    Administer questionnaires in session, score them, raise critical items at once, and track change
    across a 12-16 session course.

    \b
    First steps:
      ipt instruments list           what can be administered
      ipt score phq9 --answers 1,2,0,1,1,0,2,1,0
      ipt plugins                    what is installed, and any plugin problem
    """


def main() -> None:
    cli(prog_name="ipt")
