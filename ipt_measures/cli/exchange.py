"""``ipt export`` and ``ipt import``: Click wiring over ipt_measures.exchange."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .common import SafePath, db_option, open_store, stderr_progress


@click.command()
@click.argument("clients", nargs=-1)
@click.option("--all", "all_clients", is_flag=True, help="Export the whole caseload.")
@click.option("--format", "fmt", default="csv-long", show_default=True, metavar="FORMAT",
              help="csv-long, csv-wide, json, fhir, or a format a plugin adds.")
@click.option("--items", is_flag=True, help="csv-long: one row per item response (the layout ipt import reads).")
@click.option("-o", "--output", type=SafePath(dir_okay=False), help="Write to FILE (default: standard output).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists (never the database or the key file).")
@click.option("--deidentify", is_flag=True, help="Pseudonyms for client ids; no names, birth years or free text.")
@click.option("--key-file", type=SafePath(dir_okay=False),
              help="Secret key for --deidentify (created, owner-only, if it does not exist). Keep it safe.")
@click.option("--shift-dates", is_flag=True, help="With --deidentify: move each client's dates by a keyed offset.")
@click.option("--with-identifiers", is_flag=True, help="Add display names and birth years (never with --deidentify).")
@click.option("--excel", is_flag=True, help="CSV formats: start with a UTF-8 byte-order mark so Excel reads accents right.")
@click.option("--bundle-type", type=click.Choice(["collection", "transaction"]), default="collection", show_default=True,
              help="fhir: a collection (a file) or a transaction a FHIR server runs (POST it to the server's base).")
@click.option("--with-definitions", is_flag=True,
              help="fhir: include the Questionnaires, CodeSystems and StructureDefinitions the resources point to.")
@db_option
def export(clients, all_clients, fmt, items, output, force, deidentify, key_file, shift_dates, with_identifiers, excel,
           bundle_type, with_definitions, db_path):
    """Export scores for clinical review or research, streamed however large the caseload.

    Give client ids, or --all for the whole caseload. Only completed administrations are exported.
    Names and birth years are left out unless --with-identifiers asks for them.

    \b
    Examples:
      ipt export c001 --format csv-long --items -o c001.csv
      ipt export --all --format csv-wide -o caseload.csv
      ipt export --all --format fhir -o bundle.json
      ipt export --all --format fhir --bundle-type transaction --with-definitions -o transaction.json
      ipt export --all --deidentify --key-file ~/ipt-export.key --shift-dates -o research.csv
    """
    from ..errors import UsageError
    from ..exchange import available_formats
    from ..exchange.exporting import export as run_export

    if bool(clients) == bool(all_clients):
        raise UsageError("give client ids or --all (not both)")
    formats = available_formats()
    if fmt not in formats:
        raise UsageError(f"unknown export format {fmt!r} (available: {', '.join(sorted(formats))})")
    if (key_file or shift_dates) and not deidentify:
        raise UsageError("--key-file and --shift-dates go with --deidentify")
    if deidentify and with_identifiers:
        raise UsageError("a de-identified export cannot include names or birth years")
    if deidentify and not key_file:
        raise UsageError("--deidentify needs --key-file FILE (created if absent; keep it to link later exports)")
    from .. import files

    store = open_store(db_path)
    try:
        # Checked before anything is created or written: never the database (whatever path or link leads
        # to it), never the key file, never an existing file without --force.
        database = [(p, "the open database") for p in store.files()]
        protect = database + ([(key_file, "the key file")] if key_file else [])
        if output:
            files.check_target(output, force=force, protect=protect)
        deid = None
        if deidentify:
            from ..deidentify import Deidentifier, load_or_create_key

            files.check_target(key_file, force=True, protect=database)
            key, created = load_or_create_key(key_file)
            if created:
                click.echo(f"Created the key file {key_file} (owner-only). Keep it secret and keep it: the same key "
                           "gives the same pseudonyms next time.", err=True)
            deid = Deidentifier(key, shift_dates=shift_dates)

        def write(out) -> int:
            return run_export(store, fmt, out, client_ids=None if all_clients else clients, items=items,
                              deidentify=deid, include_identifiers=with_identifiers, excel=excel,
                              bundle_type=bundle_type, with_definitions=with_definitions,
                              destination=str(Path(output).resolve()) if output else None,
                              # A bar for the whole caseload, unless the export itself is scrolling past on the terminal.
                              progress=stderr_progress() if all_clients and (output or not sys.stdout.isatty()) else None)

        if output:
            count = files.write_output(Path(output), write, force=force, protect=protect)
            click.echo(f"Exported {count} administration(s) to {output}.", err=True)
        else:
            from .output import raw_stdout

            stream = raw_stdout()  # the data as stored into a file or pipe; escaped on a terminal
            write(stream)
            stream.flush()
    finally:
        store.close()  # closes an export cursor left open by a failed write first (store.export_rows)


PROGRESS_BYTES = 1_000_000
SHOWN_REJECTIONS = 20  # listed on the terminal; the rest are summarised by reason (--json lists more)


@click.command("import")
@click.argument("file", type=SafePath(exists=True, dir_okay=False))
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="csv (the csv-long --items layout), fhir (Bundle or QuestionnaireResponse), or a format a "
              "plugin adds; default: guessed from the file.")
@click.option("--dry-run", is_flag=True, help="Check and rescore every row; store nothing.")
@click.option("--merge-differing", is_flag=True,
              help="Add to a stored course or session whose length, problem areas, protocol, date or phase differ "
              "from the file's, keeping what is stored (refused otherwise).")
@click.option("--amend-changed", is_flag=True,
              help="Store a record changed at its source since an earlier import as an amendment (refused otherwise).")
@click.option("--session", "session_number", type=click.IntRange(1, 99), default=None,
              help="For responses that do not say their session (standard FHIR): the session number.")
@click.option("--course", "course_start", default=None, metavar="START_DATE",
              help="For such responses: the start date (YYYY-MM-DD) of the client's course.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: for files over 1 MB when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
def import_command(file, fmt, dry_run, merge_differing, amend_changed, session_number, course_start, progress, as_json,
                   db_path):
    """Import scores collected elsewhere, checked item by item and rescored.

    Every field is checked and every administration scored again: a stated total that disagrees is
    rejected, never stored. A course or session already stored is only added to if the file describes it
    the same way, and a client never gets a second active course. If anything is rejected nothing is
    stored (exit 1): fix the rows and run it again. Running the same import twice skips what the first run
    stored; a record changed at its source since is reported (--amend-changed stores it as an amendment).

    Standard FHIR QuestionnaireResponses from other systems (identified by the instrument's LOINC panel,
    items by LOINC code or linkId) are filed into the client's stored course: into the session held on the
    response's date, or the one --session (and --course) name.

    \b
    Examples:
      ipt import scores.csv --dry-run
      ipt import bundle.json --format fhir
      ipt import lhc-forms-response.json --session 4
    """
    from ..errors import StoreError
    from ..exchange.importing import ImportStopped, import_file
    from .output import print_json

    # By default a bar only for a large file on a terminal: a small import finishes before a bar is worth drawing.
    show = progress if progress is not None else sys.stderr.isatty() and os.path.getsize(file) > PROGRESS_BYTES
    bar = (lambda stage, total: click.progressbar(length=total, label=stage.capitalize(), file=sys.stderr)) if show else None
    scratch = None
    try:
        store = open_store(db_path, create=not dry_run)
    except StoreError as exc:
        if not dry_run or not str(exc).startswith("no database at"):
            raise
        # A dry run before the first import: checked against an empty record in a temporary folder, so
        # no database is created where the user pointed.
        import tempfile

        from ..store import open_store as open_engine

        scratch = tempfile.TemporaryDirectory(prefix="ipt-dry-run-")
        store = open_engine(Path(scratch.name) / "dry-run.db")
        click.echo("No database yet: the file is checked against an empty record.", err=True)
    try:
        report = import_file(store, file, fmt, dry_run=dry_run, progress=bar, merge_differing=merge_differing,
                             amend_changed=amend_changed, session=session_number, course=course_start)
    except ImportStopped as exc:
        if as_json:
            print_json({**exc.report.as_dict(), "stopped": str(exc)})
        click.echo(f"Error: {exc}", err=True)
        sys.exit(130 if "(interrupted)" in str(exc) else exc.exit_code)
    except KeyboardInterrupt:  # while checking: storing had not begun (an interrupt then is ImportStopped)
        click.echo("\nInterrupted while checking the file: nothing was stored.", err=True)
        sys.exit(130)
    finally:
        store.close()
        if scratch is not None:
            scratch.cleanup()
    if as_json:
        print_json(report.as_dict())
    else:
        for rejection in report.rejected[:SHOWN_REJECTIONS]:
            click.echo(f"rejected {rejection}")
        if report.rejected_total > SHOWN_REJECTIONS:
            click.echo(f"... and {report.rejected_total - SHOWN_REJECTIONS:,} more rejected row(s) (--json lists the "
                       f"first {len(report.rejected):,}). By reason:")
            for reason, count in sorted(report.reasons.items(), key=lambda kv: -kv[1])[:10]:
                click.echo(f"  {count:>9,}  {reason}")
        if not report.ok:
            click.echo(f"{report.administrations} administration(s) valid, {report.rejected_administrations} rejected; "
                       "nothing was stored.")
        elif dry_run:
            click.echo(f"Dry run: {report.administrations} administration(s) valid, {report.skipped} already stored"
                       + (f", {report.changed} changed at their source (to be amended)" if report.changed else "")
                       + "; nothing was stored.")
        else:
            click.echo(f"Stored {report.stored} administration(s), skipped {report.skipped} already stored, "
                       + (f"amended {report.amended} changed at their source, " if report.amended else "")
                       + "rejected 0.")
    if not report.ok:
        sys.exit(1)
