"""Commands that look after the record: demo (a synthetic caseload), doctor (checks), backup (a safe copy)."""

from __future__ import annotations

import sys

import click

from .common import SafePath, db_option, open_store, stderr_progress
from .output import emit, output_options, print_json


def _parse_date(value):
    from datetime import date

    if value in (None, "", "today"):
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-02", param_hint="--as-of") from None


@click.command("demo")
@click.option("--clients", "n_clients", type=click.IntRange(1, 100_000), default=25, show_default=True,
              help="How many synthetic clients to make.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=1, show_default=True,
              help="Same seed, same caseload.")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="The day the caseload is seen from (default: today); courses run up to it.")
@click.option("--names", is_flag=True, help="Give clients made-up display names (ids only by default).")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def demo(n_clients, seed, as_of, names, db_path, as_json):
    """Fill a database with a synthetic IPT caseload, to try every command on.

    Made-up clients (demo-0001, ...) with 12-16 session courses: most improve, some stay flat, a few
    get worse; occasional missing answers and critical items. Scores come from the real scorers.
    Refuses a database that holds any non-demo client. Running it again adds nothing twice.

    \b
    Examples:
      ipt demo --db demo.db
      ipt demo --db demo.db --clients 200 --seed 7
      ipt caseload --db demo.db
    """
    from ..demo import populate

    day = _parse_date(as_of)
    with open_store(db_path, create=True) as store:
        result = populate(store, n_clients, seed, as_of=day, names=names, progress=stderr_progress())
        path = store.path
    if as_json:
        print_json({"database": str(path), **result})
        return
    t = result["trajectories"]
    click.echo(
        f"{path}: {result['stored']} administrations stored for {n_clients} demo clients "
        f"({result['first']} to {result['last']}), {result['skipped']} already there."
    )
    click.echo(
        f"Courses: {t.get('improve', 0)} improving, {t.get('flat', 0)} flat, {t.get('deteriorate', 0)} deteriorating; "
        f"{result['critical']} administrations with a critical item, {result['not_scored']} not scored (too many missing)."
    )
    db_hint = f" --db {path}" if db_path else ""
    click.echo(f"Try: ipt caseload{db_hint}   ipt progress {result['first']}{db_hint}")


@click.command("doctor")
@db_option
@click.option("--quick", is_flag=True, help="SQLite's quick_check instead of the full integrity_check.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (for scripts and CI).")
@output_options
def doctor(db_path, quick, strict, as_json, table_format):
    """Check the record and the installation: integrity, schema version, plugins, file permissions.

    Exits 1 when a check fails (with --strict, also on a warning). Reads only: changes nothing.

    \b
    Examples:
      ipt doctor
      ipt doctor --db demo.db --json
    """
    from ..maintenance import doctor as run_doctor

    checks = run_doctor(db_path, quick=quick, progress=stderr_progress())
    emit(checks, as_json=as_json, table_format=table_format, columns=["check", "status", "detail"])
    statuses = {c["status"] for c in checks}
    if "fail" in statuses or (strict and "warn" in statuses):
        if not as_json:
            failed = sum(c["status"] == "fail" for c in checks)
            warned = sum(c["status"] == "warn" for c in checks)
            click.echo(f"ipt doctor: {failed} failed, {warned} warning(s)", err=True)
        sys.exit(1)


@click.command("backup")
@click.argument("dest", type=SafePath(dir_okay=False))
@db_option
@click.option("--force", is_flag=True, help="Replace DEST if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def backup(dest, db_path, force, as_json):
    """Copy the record to DEST, consistently, even while others are using it.

    Uses SQLite's online backup API from one read snapshot; the copy is owner-only (0600), checked with
    integrity_check, and never replaces an existing file unless --force.

    \b
    Examples:
      ipt backup ~/ipt-backup-2026-11-02.db
      ipt backup /media/usb/ipt.db --force
    """
    from ..maintenance import backup as run_backup

    result = run_backup(dest, db_path, force=force, progress=stderr_progress())
    if as_json:
        print_json(result)
        return
    click.echo(
        f"Backed up {result['source']} to {result['backup']}: {result['clients']} clients, "
        f"{result['administrations']} administrations, {result['responses']} answers "
        f"({result['bytes'] / 1e6:.1f} MB in {result['seconds']:.2f} s)."
    )
