"""``ipt alerts``: the open alerts (critical items, unanswered risk items, deterioration...) and their acknowledgement.

Click wiring and formatting only; the work is done by :func:`ipt_measures.record.list_alerts` and
:func:`ipt_measures.record.acknowledge_alert`.
"""

from __future__ import annotations

import click

from .common import db_option, open_store
from .output import check_table_format, emit, output_options, print_json

LIST_COLUMNS = ["id", "severity", "client_id", "session_number", "instrument_id", "item_id", "message", "raised_at"]
HISTORY_COLUMNS = LIST_COLUMNS + ["status", "acknowledged_at", "acknowledged_by", "action", "note"]


class _AlertsGroup(click.Group):
    """``ipt alerts [CLIENT]`` lists; ``ipt alerts ack ID`` acknowledges: anything not a subcommand lists."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_AlertsGroup)
def alerts():
    """Alerts stay open until a clinician acknowledges them: list them, and record what was done.

    An alert is raised, and stored, with the answer or score that raised it: a critical item (e.g. PHQ-9
    item 9), a risk item skipped or declined, a reliable deterioration, an instrument's alert rule (e.g.
    ASRM total 6 or more). Open ones are listed most serious first, then oldest. Acknowledging keeps the
    alert (never deleted) with who, when and what was done, and is in `ipt audit`.

    \b
    Examples:
      ipt alerts                       every open alert, most serious and oldest first
      ipt alerts c001 --all            one client's alerts, acknowledged ones too
      ipt alerts ack 12 --action "risk assessed, safety plan reviewed" --note "no current plan or intent"
    """


@alerts.command("list")
@click.argument("client_id", required=False)
@click.option("--all", "include_acknowledged", is_flag=True, help="Acknowledged alerts too (the history).")
@output_options
@db_option
def alerts_list(client_id, include_acknowledged, as_json, table_format, db_path):
    """List open alerts (of one client, or everyone's), most serious first, then oldest.

    The same as `ipt alerts [CLIENT]`.

    \b
    Examples:
      ipt alerts
      ipt alerts c001 --all --json
    """
    from .. import record

    if not as_json:
        check_table_format(table_format)
    with open_store(db_path) as store:
        rows = record.list_alerts(store, client_id, include_acknowledged)
    if as_json:
        print_json(rows)
        return
    if not rows:
        who = f" for {client_id}" if client_id else ""
        click.echo(f"No {'alerts' if include_acknowledged else 'open alerts'}{who}.")
        return
    emit(rows, as_json=False, table_format=table_format,
         columns=HISTORY_COLUMNS if include_acknowledged else LIST_COLUMNS)
    still_open = [r for r in rows if r["status"] == "open"]
    if still_open:
        click.echo(f"\n{len(still_open)} open. Acknowledge one when it is dealt with: "
                   f"ipt alerts ack {still_open[0]['id']} --action \"what was done\"")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--action", required=True, help="What was done, e.g. 'risk assessed, safety plan reviewed'.")
@click.option("--note", default=None, help="Anything else to keep with it.")
@click.option("--by", "actor", default=None, metavar="NAME",
              help="Who acted, if not the login (kept beside the operating-system login).")
@click.option("--json", "as_json", is_flag=True, help="Print the acknowledged alert as JSON.")
@db_option
def alerts_ack(alert_id, action, note, actor, as_json, db_path):
    """Acknowledge an alert: who, when and what was done. The alert is kept, never deleted; see `ipt audit`.

    \b
    Example:
      ipt alerts ack 12 --action "risk assessed, safety plan reviewed"
    """
    from .. import record

    with open_store(db_path) as store:
        alert = record.acknowledge_alert(store, alert_id, action, note, actor)
    if as_json:
        print_json(alert)
        return
    click.echo(f"Acknowledged alert {alert['id']} ({alert['client_id']}: {alert['message']}) by "
               f"{alert['acknowledged_by']} at {alert['acknowledged_at']}: {alert['action']}")
