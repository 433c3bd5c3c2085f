"""Example third-party plugin: adds a made-up instrument and a command, the way a clinic's package would.

The "Session Connection Check" (SCC-3) is invented for this example; it is not a published measure.
"""

from pathlib import Path

from ipt_measures import hookimpl


@hookimpl
def register_instruments(register):
    register(Path(__file__).with_name("scc3.toml"))


@hookimpl
def register_commands(cli):
    import click

    @cli.command("example-hello")
    def example_hello():
        """Say hello from the example plugin."""
        click.echo("hello from ipt-measures-example")
