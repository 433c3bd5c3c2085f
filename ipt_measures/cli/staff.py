"""``ipt staff``: the clinic's staff and their roles. Click wiring and formatting only; the work is done by
:func:`ipt_measures.record.add_staff` and :func:`ipt_measures.record.list_staff`."""

from __future__ import annotations

import click

from ..domain import STAFF_ROLES
from .common import db_option, open_store
from .output import emit, output_options, print_json


@click.group()
def staff():
    """The staff of a shared record and their roles, enforced by a PostgreSQL server.

    A clinician sees and writes only their own caseload; a supervisor reads everyone's (and acknowledges
    alerts); an admin does everything and adds staff; a researcher reads only de-identified exports. On a
    SQLite record (one clinician, no server) the list is kept but nothing enforces it.
    """


@staff.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES),
              help="clinician, supervisor, admin or researcher.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@db_option
def staff_add(name, role, as_json, db_path):
    """Add a member of staff (run by an admin). On PostgreSQL: CREATE ROLE NAME LOGIN, with no password
    (set one with ALTER ROLE / psql's \\password, or use peer or certificate authentication), in the
    record's group for the role.

    \b
    Examples:
      ipt staff add jsmith --role clinician
      ipt staff add mlee --role supervisor
    """
    from .. import record

    with open_store(db_path) as store:
        member = record.add_staff(store, name, role)
    if as_json:
        print_json(member)
        return
    click.echo(f"Added {member['name']} as {member['role']}.")
    click.echo(member["note"], err=True)


@staff.command("list")
@output_options
@db_option
def staff_list(as_json, table_format, db_path):
    """List the staff and their roles.

    \b
    Examples:
      ipt staff list
      ipt staff list --json
    """
    from .. import record

    with open_store(db_path) as store:
        rows, note = record.list_staff(store)
    emit(rows, as_json=as_json, table_format=table_format, columns=["name", "role", "added_at", "added_by"])
    if note:
        click.echo(note, err=True)
