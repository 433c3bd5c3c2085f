"""``ipt inventory`` and ``ipt goals``: IPT's own terms in the record. Click wiring and formatting only; the
work is done by :mod:`ipt_measures.ipt_record`."""

from __future__ import annotations

import click

from ..domain import CLOSENESS_CIRCLES, CONTACT_FREQUENCIES, RELATIONSHIP_TYPES
from .common import db_option, open_store
from .output import emit, output_options, print_json

RATING = click.IntRange(0, 4)
SCALE_NOTE = "support and conflict are rated 0-4: 0 none, 1 a little, 2 some, 3 a lot, 4 a great deal"


def _rating_options(func):
    func = click.option("--course", "course_id", type=int, default=None,
                        help="Course id (default: the active course, else the latest).")(func)
    func = click.option("--session", "session_number", type=int, default=None,
                        help="The session it was rated in (default: the latest session started).")(func)
    func = click.option("--date", "rated_on", metavar="YYYY-MM-DD", default=None,
                        help="Date of the rating (default: the session's date, else today).")(func)
    func = click.option("--wants", "wanted_change", default=None,
                        help="The change the client wants in this relationship (kept in the record only).")(func)
    func = click.option("--contact", type=click.Choice(CONTACT_FREQUENCIES), default=None, help="Contact frequency.")(func)
    func = click.option("--conflict", type=RATING, default=None, help="Conflict, 0-4 (0 none ... 4 a great deal).")(func)
    func = click.option("--support", type=RATING, default=None, help="Support, 0-4 (0 none ... 4 a great deal).")(func)
    func = click.option("--closeness", type=click.Choice(CLOSENESS_CIRCLES), default=None,
                        help="Closeness circle: inner (closest), middle, outer.")(func)
    return func


class ClientGroup(click.Group):
    """``ipt NAME CLIENT [SUBCOMMAND ...]``: with no subcommand, options may follow CLIENT (``ipt inventory c001
    --json``); with one, everything after its name is the subcommand's."""

    def parse_args(self, ctx, args):
        if not any(a in self.commands for a in args):
            ctx.allow_interspersed_args = True
        return super().parse_args(ctx, args)


def _describe(r: dict) -> str:
    text = (f"{r['closeness']} circle, support {r['support']}, conflict {r['conflict']}, contact {r['contact']}"
            f" (rated {r['rated_on']}" + (f", session {r['session_number']}" if r["session_number"] else "") + ")")
    return text + (f"; wants: {r['wanted_change']}" if r["wanted_change"] else "")


@click.group(cls=ClientGroup, invoke_without_command=True)
@click.argument("client_id", metavar="CLIENT")
@click.option("--course", "course_id", type=int, default=None, help="Course id (default: the active course, else the latest).")
@output_options
@db_option
@click.pass_context
def inventory(ctx, client_id, course_id, as_json, table_format, db_path):
    """The interpersonal inventory: the client's key relationships, rated at the start and the end.

    Each relationship has a pseudonymous LABEL you choose ("partner", "mother", "colleague A"; never a name),
    a type, a closeness circle (inner, middle, outer), support and conflict (0-4: 0 none, 1 a little, 2 some,
    3 a lot, 4 a great deal), contact frequency and the change the client wants. Every rating is dated and kept.

    \b
    Examples:
      ipt inventory c001 add partner --type partner --closeness inner --support 1 --conflict 4 --contact daily
      ipt inventory c001 rate partner --support 3 --conflict 1
      ipt inventory c001
      ipt inventory c001 --json
    """
    ctx.obj = {"client_id": client_id, "db_path": db_path}
    if ctx.invoked_subcommand is not None:
        return
    from .. import ipt_record

    with open_store(db_path) as store:
        data = ipt_record.inventory(store, client_id, course_id)
    if as_json:
        print_json(data)
        return
    click.echo(f"Interpersonal inventory of {client_id}, course {data['course_id']} ({SCALE_NOTE}).")
    rows = []
    for r in data["relationships"]:
        start, end = r["start"], r["end"]
        rows.append({
            "label": r["label"], "type": r["relationship_type"],
            "start": _short(start), "latest": _short(end) if end else "(not re-rated)",
            "ratings": len(r["ratings"]),
            "wants": (end or start or {}).get("wanted_change") or "",
        })
    emit(rows, as_json=False, table_format=table_format, columns=["label", "type", "start", "latest", "ratings", "wants"])


def _short(r: dict) -> str:
    return f"{r['closeness']} S{r['support']} C{r['conflict']} {r['contact']} ({r['rated_on']})"


@inventory.command("add")
@click.argument("label")
@click.option("--type", "relationship_type", type=click.Choice(RELATIONSHIP_TYPES), required=True,
              help="Relationship type.")
@_rating_options
@db_option
@click.pass_obj
def inventory_add(obj, label, relationship_type, closeness, support, conflict, contact, wanted_change, rated_on,
                  session_number, course_id, db_path):
    """Add a key relationship with its first rating (closeness, support, conflict and contact are needed).

    \b
    Example:
      ipt inventory c001 add mother --type parent --closeness middle --support 2 --conflict 3 --contact weekly
    """
    from .. import ipt_record

    with open_store(db_path or obj["db_path"]) as store:
        r = ipt_record.add_relationship(
            store, obj["client_id"], label, relationship_type, closeness=closeness, support=support,
            conflict=conflict, contact=contact, wanted_change=wanted_change, rated_on=rated_on,
            session_number=session_number, course_id=course_id)
    click.echo(f"Added {r['label']} ({r['relationship_type']}): {_describe(r['ratings'][-1])}.")


@inventory.command("rate")
@click.argument("label")
@_rating_options
@db_option
@click.pass_obj
def inventory_rate(obj, label, closeness, support, conflict, contact, wanted_change, rated_on, session_number,
                   course_id, db_path):
    """Re-rate a relationship (at the end of the course, or whenever): a new dated rating; earlier ones are kept.

    A rating not given is carried over from the latest one.

    \b
    Example:
      ipt inventory c001 rate partner --support 3 --conflict 1 --session 16
    """
    from .. import ipt_record

    with open_store(db_path or obj["db_path"]) as store:
        r = ipt_record.rate_relationship(
            store, obj["client_id"], label, closeness=closeness, support=support, conflict=conflict, contact=contact,
            wanted_change=wanted_change, rated_on=rated_on, session_number=session_number, course_id=course_id)
    click.echo(f"Rated {r['label']}: {_describe(r['ratings'][-1])} (rating {len(r['ratings'])}).")


@click.group(cls=ClientGroup, invoke_without_command=True)
@click.argument("client_id", metavar="CLIENT")
@click.option("--course", "course_id", type=int, default=None, help="Course id (default: the active course, else the latest).")
@output_options
@db_option
@click.pass_context
def goals(ctx, client_id, course_id, as_json, table_format, db_path):
    """Goals for the problem area (up to three per course), rated 0-10 every session on the Goal-Based Outcomes.

    Ratings are taken with the other measures due: ipt administer CLIENT --due.

    \b
    Examples:
      ipt goals c001 add "Talk with my partner about money without a row" --problem-area role-disputes
      ipt goals c001
    """
    ctx.obj = {"client_id": client_id, "db_path": db_path}
    if ctx.invoked_subcommand is not None:
        return
    from .. import ipt_record

    with open_store(db_path) as store:
        rows = ipt_record.goals(store, client_id, course_id)
    emit(rows, as_json=as_json, table_format=table_format, columns=["number", "problem_area", "text"])


@goals.command("add")
@click.argument("text")
@click.option("--problem-area", default=None,
              help="The course's problem area the goal is for (needed when the course has more than one).")
@click.option("--course", "course_id", type=int, default=None, help="Course id (default: the active course).")
@db_option
@click.pass_obj
def goals_add(obj, text, problem_area, course_id, db_path):
    """Agree a goal with the client, in their words, tied to one of the course's problem areas.

    \b
    Example:
      ipt goals c001 add "Visit my father's grave with my sister" --problem-area grief
    """
    from .. import ipt_record

    with open_store(db_path or obj["db_path"]) as store:
        g = ipt_record.add_goal(store, obj["client_id"], text, problem_area, course_id)
    click.echo(f"Goal {g['number']} ({g['problem_area']}) agreed. It is rated 0-10 each session with: "
               f"ipt administer {obj['client_id']} --due")
