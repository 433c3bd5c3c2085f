"""Commands for the client's own screen: ``ipt serve`` (the self-completion page) and ``ipt handover`` (a link)."""

from __future__ import annotations

import time

import click

from .common import SafePath, db_option, open_store
from .output import critical, print_json

GRACE_SECONDS = 10  # how long handover's own server outlives the last answer


def _server_options(func):
    func = click.option("--key", type=SafePath(exists=True, dir_okay=False), default=None,
                        help="TLS private key (PEM), with --cert.")(func)
    func = click.option("--cert", type=SafePath(exists=True, dir_okay=False), default=None,
                        help="TLS certificate (PEM). Beyond loopback without one, a self-signed one is made.")(func)
    func = click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
                        help="Port to listen on.")(func)
    func = click.option("--host", default="127.0.0.1", show_default=True,
                        help="Address to listen on; anything beyond loopback (e.g. 0.0.0.0) requires TLS.")(func)
    return func


def _tls(host, cert, key):
    from ..web import server

    cert, key, generated = server.tls_files(host, cert, key)
    if cert:
        click.echo(f"TLS certificate SHA-256 fingerprint: {server.fingerprint(cert)}")
        if generated:
            click.echo(f"(a self-signed certificate made now, kept at {cert}; check this fingerprint in the "
                       "tablet's browser the first time it warns about the certificate)")
    return cert, key


@click.command()
@_server_options
@db_option
def serve(host, port, cert, key, db_path):
    """Serve the client's self-completion page (links come from ipt handover).

    Listens on 127.0.0.1:8765 by default: a device in the room reaches it only through a link that
    `ipt handover` prints. To let a tablet on the clinic's Wi-Fi connect, bind beyond loopback
    (--host 0.0.0.0): TLS is then required, with --cert/--key or a self-signed certificate made on first use.
    The page shows questions only: never a score, an alert, or the client's id. Ctrl-C stops it.

    \b
    Examples:
      ipt serve
      ipt serve --host 0.0.0.0 --port 8443
      ipt serve --host 0.0.0.0 --cert clinic.pem --key clinic-key.pem
    """
    from ..web import server

    with open_store(db_path, create=True) as store:  # creates and migrates the record before the first client arrives
        path = store.path
    cert, key = _tls(host, cert, key)
    srv = server.make_server(path, host, port, cert, key)
    click.echo(f"Serving the self-completion page at {server.base_url(host, port, bool(cert))} for the record {path}")
    click.echo("Hand forms over with: ipt handover CLIENT FORM... (Ctrl-C stops the server)")
    srv.run()


@click.command()
@click.argument("client_id")
@click.argument("instruments", nargs=-1)
@click.option("--due", "use_due", is_flag=True, help="Hand over what the course's protocol says is due.")
@click.option("--expires", default="30m", show_default=True, help="How long the link works (e.g. 30m, 1h).")
@click.option("--json", "as_json", is_flag=True, help='Print {"url": ...} and exit (no watching).')
@_server_options
@db_option
def handover(client_id, instruments, use_due, expires, as_json, host, port, cert, key, db_path):
    """Hand forms to the client's own screen: a one-time link, its QR code, then watch progress and alerts.

    Creates a link for these forms in the client's current session, prints it with a QR code for a tablet or
    phone, and watches: each item reached ("PHQ-9: item 4 of 9") and every alert the moment it is stored,
    until the forms are finished or the link expires. Nothing of this is on the client's screen. Starts a
    server for its own lifetime when no `ipt serve` is running. An instrument whose text is not shipped
    (licence) cannot be handed over: give it on paper.

    \b
    Examples:
      ipt handover c001 phq9 gad7
      ipt handover c001 --due --expires 1h
      ipt handover c001 phq9 --json
    """
    from .. import handover as service
    from ..web import server

    with open_store(db_path) as store:
        running_tls = server.probe(host, port, store.path)
        token, made = service.create(store, client_id, list(instruments), use_due=use_due, expires=expires)
        own = None
        if running_tls is None and not as_json:
            cert, key = _tls(host, cert, key)
            own = server.make_server(store.path, host, port, cert, key)
            server.start_in_thread(own)
            running_tls = bool(cert)
        url = f"{server.base_url(host, port, bool(running_tls))}/t/{token}"
        for paper in made["on_paper"]:
            click.secho(f"Not handed over: {paper['why']}", fg="yellow", err=True)
        if as_json:
            print_json({"url": url})
            if running_tls is None:
                click.echo(f"Note: no ipt serve is running on port {port}; the link works once one is "
                           f"(ipt serve{'' if db_path is None else ' --db ' + db_path}).", err=True)
            return
        _show_link(url, made, own is not None)
        try:
            _watch(store, made["id"], client_id)
            if own is not None:
                time.sleep(GRACE_SECONDS)  # the client's screen still fetches its "Thank you" from this server
        except KeyboardInterrupt:
            store.end_handover(made["id"], "cancelled")
            click.echo("\nStopped watching; the link is cancelled. Every answer given is saved: "
                       f"hand the rest over again with ipt handover {client_id} ...", err=True)
        finally:
            if own is not None:
                own.should_exit = True


def _show_link(url, made, own_server):
    import segno

    click.echo("Open this link on the client's device (it works once, until "
               f"{made['expires_at'].replace('T', ' ')}):")
    click.echo(url)
    segno.make(url, error="m").terminal(compact=True)
    if own_server:
        click.echo("(a server runs for as long as this command does)")
    click.echo("Watching: progress and alerts appear here, never on the client's screen. Ctrl-C cancels the link.")


def _watch(store, handover_id, client_id, poll=0.3):
    from .. import handover as service

    for kind, what in service.watch(store, handover_id, poll=poll, sleep=time.sleep):
        if kind == "progress":
            click.echo(what)
        elif kind == "alert":
            message = f"{what.get('instrument_id') or ''} {what['message']}".strip()
            if what["severity"] == "critical":
                critical(message, banner=True, err=False)
            else:
                click.secho(f"{what['severity'].upper()}: {message}", fg="yellow", bold=True)
        elif kind == "end":
            click.echo(what)
