"""Every hook is documented in the README and has a test; every command has help text."""

import inspect
import re

import click
import pytest

from ipt_measures import hookspecs
from ipt_measures.cli import COMMANDS, cli

from conftest import ROOT

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "ipt_measures_spec")]


def test_there_are_hooks():
    assert {"register_instruments", "score_instrument", "alerts_after_score", "register_exporters",
            "register_commands", "register_protocols"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_readme(hook):
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"`{hook}\(", readme), f"README's plugin section lacks `{hook}(...)`"
    assert getattr(hookspecs, hook).__doc__.strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    text = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    assert f"def test_hook_{hook}(" in text


def _all_commands(group, ctx, prefix=""):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from _all_commands(command, ctx, prefix + name + " ")


def test_every_command_has_help_text():
    ctx = click.Context(cli)
    names = []
    for name, command in _all_commands(cli, ctx):
        names.append(name)
        assert command is not None, f"`ipt {name}` is in the command table but its module is missing"
        assert (command.help or "").strip(), f"`ipt {name}` has no help text"
    assert set(COMMANDS) <= set(names)
