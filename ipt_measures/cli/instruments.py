"""Commands about instruments and plugins: list, show, export, validate, import, score, plugins, schemas."""

from __future__ import annotations

import sys

import click

from .common import SafePath
from .output import critical, emit, output_options, print_json


@click.group()
def instruments():
    """List, show, validate and import instruments."""


@instruments.command("list")
@output_options
@click.option("--markdown", is_flag=True, help="Print the README's instruments table (with bands).")
def instruments_list(as_json, table_format, markdown):
    """List every registered instrument.

    \b
    Examples:
      ipt instruments list
      ipt instruments list --json
      ipt instruments list --markdown     # the table in the README
    """
    from ..describe import instrument_summary, readme_table
    from ..plugins import get_registry

    registry = get_registry()
    if markdown:
        click.echo(readme_table(list(registry.instruments.values())))
        return
    rows = [
        instrument_summary(inst, registry.instrument_plugin[inst.id])
        for inst in sorted(registry.instruments.values(), key=lambda i: i.id)
    ]
    columns = ["id", "name", "domain", "items", "respondent", "range", "licence"]
    emit(rows, as_json=as_json, table_format=table_format, columns=columns)


@instruments.command("show")
@click.argument("instrument_id")
@click.option("--json", "as_json", is_flag=True, help="Print the full definition as JSON.")
def instruments_show(instrument_id, as_json):
    """Show an instrument: items, answers, scoring rules, bands, critical items and sources.

    \b
    Example:
      ipt instruments show phq9
    """
    from ..describe import instrument_detail, instrument_text
    from ..plugins import get_registry

    registry = get_registry()
    instrument = registry.instrument(instrument_id)
    plugin = registry.instrument_plugin[instrument.id]
    if as_json:
        print_json(instrument_detail(instrument, plugin))
    else:
        click.echo(instrument_text(instrument, plugin))


@instruments.command("export")
@click.argument("instrument_ids", nargs=-1)
@click.option("--all", "all_instruments", is_flag=True, help="Every registered instrument, with the CodeSystems and "
              "StructureDefinitions, as one Bundle.")
@click.option("--format", "fmt", type=click.Choice(["fhir"]), default="fhir", show_default=True,
              help="fhir: FHIR R4 Questionnaire(s).")
@click.option("-o", "--output", type=SafePath(dir_okay=False), help="Write to FILE (default: standard output).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def instruments_export(instrument_ids, all_instruments, fmt, output, force):
    """Export instrument definitions as FHIR R4 Questionnaires (SDC style: answer weights as itemWeight).

    One instrument id prints its Questionnaire; several, or --all, print a Bundle that also holds the
    CodeSystems of our answer, score and alert codes and the StructureDefinitions of our extensions, so
    every canonical URL in an `ipt export --format fhir` resolves. Item text is included only where the
    instrument's licence allows shipping it (otherwise its neutral label).

    \b
    Examples:
      ipt instruments export phq9 --format fhir
      ipt instruments export --all --format fhir -o definitions.json
    """
    import json
    from pathlib import Path

    from ..errors import UsageError
    from ..exchange.fhir_definitions import instrument_definitions

    if bool(instrument_ids) == bool(all_instruments):
        raise UsageError("give instrument ids or --all (not both)")
    resource = instrument_definitions(None if all_instruments else list(instrument_ids))
    text = json.dumps(resource, ensure_ascii=False, indent=1) + "\n"
    if output:
        from ..files import write_output

        write_output(Path(output), lambda out: out.write(text), force=force)
        click.echo(f"Wrote {resource['resourceType']} to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@instruments.command("validate")
@click.argument("files", nargs=-1, required=True, type=SafePath(dir_okay=False))
def instruments_validate(files):
    """Check declarative instrument files and say exactly what is wrong, by path in the file.

    \b
    Example:
      ipt instruments validate my-scale.toml
    """
    from ..declarative import load_instrument_file
    from ..errors import InstrumentDefinitionError

    failed = 0
    for path in files:
        try:
            instrument = load_instrument_file(path)
        except InstrumentDefinitionError as exc:
            failed += 1
            problems = exc.problems or [str(exc)]
            click.echo(f"{path}: invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''})", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
            continue
        click.echo(f"{path}: valid ({instrument.id}, {len(instrument.items)} items, {len(instrument.scales)} scale(s))")
    if failed:
        sys.exit(1)


@instruments.command("import")
@click.argument("file", type=SafePath(exists=True, dir_okay=False))
@click.option("--redcap", "redcap", is_flag=True, help="FILE is a REDCap data dictionary (CSV); give --form.")
@click.option("--form", "form", metavar="NAME", help="With --redcap: the form (instrument) to import.")
@click.option("--id", "instrument_id", metavar="ID", help="The instrument id (default: from its name).")
@click.option("-o", "--output", type=SafePath(dir_okay=False), help="Write to FILE (default: ID.toml here).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def instruments_import(file, redcap, form, instrument_id, output, force):
    """Draft a declarative instrument file from a FHIR Questionnaire or a REDCap data dictionary.

    A FHIR R4 Questionnaire (JSON) with answer weights (itemWeight or ordinalValue, e.g. the LOINC PHQ-9
    of LHC-Forms) or one form of a REDCap data dictionary (the standard 18-column CSV; choices
    "0, Never | 1, Sometimes"; a calc field that plainly sums the items is the total) becomes a TOML file
    that validates. What the source does not say (citation, licence, bands, missing-item rule, critical
    items) is marked TODO in it, never invented: complete it before clinical use.

    \b
    Examples:
      ipt instruments import phq9-questionnaire.json
      ipt instruments import --redcap dictionary.csv --form wellbeing -o wellbeing.toml
    """
    from pathlib import Path

    from ..errors import UsageError
    from ..exchange.instrument_file import import_instrument

    if redcap != bool(form):
        raise UsageError("--redcap and --form NAME go together (a data dictionary holds many forms)")
    text, instrument = import_instrument(file, redcap_form=form, instrument_id=instrument_id)
    target = Path(output or f"{instrument.id}.toml")
    if target.exists() and not force:
        raise UsageError(f"{target} exists; give another -o FILE, or --force to replace it")
    try:
        with open(target, "w" if force else "x", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    todo = text.count("TODO")
    click.echo(f"Wrote {target}: {instrument.id}, {len(instrument.items)} items, total of "
               f"{len(instrument.primary.items)} scored item(s). It validates, but {todo} TODO mark(s) say what the "
               "source does not (citation, licence, bands, missing-item rule, critical items): complete them, then "
               f"ipt instruments validate {target}")


@instruments.command("dir")
def instruments_dir_command():
    """Print the folder whose *.toml and *.json instrument files are loaded (set IPT_INSTRUMENTS_DIR to move it)."""
    from ..paths import instruments_dir

    click.echo(str(instruments_dir()))


@click.command("score")
@click.argument("instrument_id")
@click.option(
    "--answers",
    required=True,
    help="Answer values in item order, comma-separated; leave a field empty or write '-' for a missing answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the score as JSON.")
def score_command(instrument_id, answers, as_json):
    """Score one set of answers without storing it.

    \b
    Examples:
      ipt score phq9 --answers 3,3,3,3,3,3,3,3,1
      ipt score phq9 --answers 1,2,,1,0,1,0,0,0 --json
    """
    from ..assess import assess
    from ..describe import score_lines
    from ..plugins import get_registry
    from ..scoring import parse_answer_list

    registry = get_registry()
    instrument = registry.instrument(instrument_id)
    assessment = assess(instrument, parse_answer_list(answers), registry=registry)
    score, alerts = assessment.score, assessment.alerts
    if as_json:
        data = score.model_dump(mode="json")
        data["alerts"] = alerts
        print_json(data)
        return
    for alert in alerts:
        if alert["severity"] == "critical":
            critical(alert["message"])
    click.echo(f"{instrument.short_name or instrument.name} ({instrument.id})")
    for line in score_lines(score):
        click.echo(line)
    for alert in alerts:
        if alert["severity"] == "critical":
            click.secho(f"CRITICAL ITEM: {alert['message']}", fg="red", bold=True)
        else:
            click.echo(f"{alert['severity'].upper()}: {alert['message']}")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--fmt", "table_format", default="simple", show_default=True, metavar="FORMAT", help="tabulate table format.")
def plugins_command(as_json, table_format):
    """List plugins: where each came from, what it registered, and any load error.

    \b
    A broken third-party plugin is reported here and skipped. To load only some third-party
    plugins, set IPT_LOAD_PLUGINS to a comma-separated list of their names (empty: none).
    """
    from ..plugins import get_registry

    registry = get_registry()
    registry.collect()  # so each plugin's registrations and refusals are known
    rows = []
    for info in registry.plugins.values():
        rows.append(
            {
                "name": info.name,
                "source": info.source,
                "distribution": info.distribution,
                "version": info.version,
                "hooks": info.hooks,
                "registered": info.registered,
                "errors": info.errors,
            }
        )
    if as_json:
        print_json(rows)
        return
    emit(
        [{**r, "registered": _short(r["registered"]), "errors": "; ".join(r["errors"])} for r in rows],
        as_json=False,
        table_format=table_format,
        columns=["name", "source", "distribution", "version", "registered", "errors"],
    )


def _short(items: list[str]) -> str:
    text = ", ".join(items)
    return text if len(text) <= 60 else text[:57] + "..."


@click.group()
def schemas():
    """Generate the JSON Schemas in schemas/ from the models (plugin authors validate against them)."""


@schemas.command("generate")
@click.option("--out", "out_dir", default="schemas", show_default=True, type=SafePath(file_okay=False))
@click.option("--check", is_flag=True, help="Exit 1 if the files on disk differ from the models (for CI).")
def schemas_generate(out_dir, check):
    """Write (or --check) schemas/*.schema.json from the pydantic models."""
    from ..schema import write_schemas

    stale = write_schemas(out_dir, check=check)
    if check and stale:
        click.echo(f"Out of date: {', '.join(stale)} (run: ipt schemas generate)", err=True)
        sys.exit(1)
    click.echo("schemas up to date" if check else f"wrote {out_dir}/")
