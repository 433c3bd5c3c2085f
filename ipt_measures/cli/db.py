"""``ipt db``: the record's database itself (upgrade its schema, copy a solo record into a clinic server).

Click wiring and formatting only; the work is done by :mod:`ipt_measures.database`.
"""

from __future__ import annotations

import click

from .common import db_option
from .output import print_json


@click.group("db")
def db():
    """The record's database: apply schema upgrades, move a solo record into a clinic's server.

    \b
    Examples:
      ipt db upgrade --db postgresql://ipt-server/clinic
      ipt db copy --from ~/ipt.db --to postgresql://ipt-server/clinic
    """


@db.command("upgrade")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def upgrade(db_path, as_json):
    """Apply the schema migrations this release has and the record has not yet.

    A SQLite file is upgraded by whoever opens it; on a PostgreSQL server only the database's owner (an
    admin) may change the schema, and a clinician's role is told so. Running it again changes nothing.

    \b
    Examples:
      ipt db upgrade
      ipt db upgrade --db postgresql://ipt-server/clinic --json
    """
    from ..database import upgrade as run_upgrade

    result = run_upgrade(db_path)
    if as_json:
        print_json(result)
    elif result["applied"]:
        click.echo(f"{result['database']}: applied {', '.join(result['applied'])}; now at {result['version']}")
    else:
        click.echo(f"{result['database']} is already at {result['version']}")


@db.command("copy")
@click.option("--from", "source", required=True, metavar="FILE.db", help="The SQLite record to copy.")
@click.option("--to", "target", required=True, metavar="postgresql://...",
              help="An empty PostgreSQL database (its password in ~/.pgpass, never here).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def copy(source, target, as_json):
    """Copy a solo SQLite record into an empty PostgreSQL database, and verify the copy.

    Every table is copied with its ids (answers in the order they were entered, superseded scores,
    acknowledged alerts and the whole audit kept) in one transaction. Before it commits, every table's row
    count and a digest of its rows are compared with the file, and every completed administration is
    re-scored from the copied answers; any difference keeps nothing, so it can simply be run again. A
    database that already holds anything is never written to. The server's audit records the copy.

    \b
    Examples:
      ipt db copy --from ~/ipt.db --to postgresql://ipt-server/clinic
    """
    from ..database import copy as run_copy

    result = run_copy(source, target)
    if as_json:
        print_json(result)
        return
    tables = result["tables"]
    click.echo(f"Copied {result['source']} to {result['target']} (schema {result['schema']}), verified:")
    for table, entry in tables.items():
        click.echo(f"  {table:<22} {entry['rows']:>9} rows  sha256 {entry['digest'][:16]}")
    click.echo(f"Scores: {result['scores']}.")
