"""The Starlette application of the self-completion page: routes, security headers, CSRF and the link rate limit."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import handover as service
from ..errors import IptError
from ..presentation import render, stylesheet

COOKIE = "ipt_page"  # holds a random page-session secret, never an identifier
MAX_BODY = 4096  # one press is a few short fields

# default-src 'none': no script, no frame, no font, no connection; only our own stylesheet and form target.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """ASGI middleware: the same protective headers on every response, errors included."""

    def __init__(self, app, *, tls: bool):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.headers}
                message["headers"] = [h for h in message.get("headers", []) if h[0] not in names] + self.headers
            await send(message)

        return await self.app(scope, receive, with_headers)


class LinkAttempts:
    """Failed link openings per address: after ``limit`` in ``window`` seconds, that address is refused."""

    def __init__(self, limit: int = 10, window: float = 600.0):
        self.limit, self.window = limit, window
        self.failures: dict[str, deque] = {}
        self.lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self.lock:
            seen = self.failures.get(address)
            if not seen:
                return False
            while seen and seen[0] < time.monotonic() - self.window:
                seen.popleft()
            return len(seen) >= self.limit

    def failed(self, address: str) -> None:
        with self.lock:
            self.failures.setdefault(address, deque()).append(time.monotonic())


def record_fingerprint(db_path: str | Path) -> str:
    """Which record a server serves, without naming it: lets ``ipt handover`` find a server on the same record
    (the same file, or the same PostgreSQL database as its display location names it)."""
    from ..store import is_server

    name = str(db_path) if is_server(db_path) else str(Path(db_path).resolve())
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def create_app(db_path: str | Path, *, tls: bool = False, registry: Any = None) -> Any:
    """The self-completion application on the record at ``db_path`` (a SQLite file or a postgresql:// URL)."""
    from ..plugins import get_registry
    from ..store import is_server, open_store

    db_path = db_path if is_server(db_path) else Path(db_path)
    registry = registry or get_registry()
    registry.instruments  # collect every registration now, not on the first client's first tap
    # The record's work for one request (a few indexed reads, at most one short write) takes well under a
    # millisecond, so it runs on the event loop itself, one request after another, on one connection: no thread
    # hop, and SQLite never sees two writers from this process (a writer that finds the file locked backs off
    # by sleeping 1, 2, 5, 10... ms). benchmarks/web_load.py: against a thread pool, p95 of saving an answer
    # with 50 clients at once about halves.
    connection: list = []
    attempts = LinkAttempts()
    fingerprint = record_fingerprint(db_path)

    def store():
        if not connection:
            connection.append(open_store(db_path, create=False))
        return connection[0]

    def page(template: str, status: int = 200, **context) -> HTMLResponse:
        html = render(template, stylesheet_url="/style.css", body_class="page", **context)
        return HTMLResponse(html, status_code=status)

    def ended(status: int = 200) -> HTMLResponse:
        response = page("page_message.html", status, title="Thank you",
                        heading="Thank you, please hand the device back.", message="")
        response.delete_cookie(COOKIE, path="/")
        return response

    def csrf_for(secret: str) -> str:
        # Bound to the page session, so a form from another session (or another site) cannot be replayed here.
        return hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()

    def set_cookie(response: Response, secret: str) -> None:
        response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", secure=tls, path="/")

    async def open_link(request: Request) -> Response:
        address = request.client.host if request.client else "?"
        if attempts.blocked(address):
            return page("page_message.html", 429, title="Please wait", heading="Please wait",
                        message="Too many attempts. Please ask your clinician for help.")
        token = request.path_params["token"]
        secret = request.cookies.get(COOKIE) or service.new_secret()
        try:
            service.open_link(store(), token, secret)
        except service.Refused:
            attempts.failed(address)
            return page("page_message.html", 404, title="Link not available", heading="This link cannot be used",
                        message="It may have ended or been used already. Please hand the device back to your clinician.")
        response = RedirectResponse("/form", status_code=303)
        set_cookie(response, secret)
        return response

    def current(secret: Optional[str]):
        handover = service.for_page(store(), secret)
        if handover is None:
            return None, None
        return handover, service.screen(store(), handover, registry)

    async def show(request: Request) -> Response:
        secret = request.cookies.get(COOKIE)
        handover, screen = current(secret)
        if handover is None or screen.done:
            return ended()
        title = f"{screen.form_name}: question {screen.number} of {screen.total}"
        asking = confirming.get(service.digest(secret))
        if asking and asking[:2] == (screen.form, screen.item_id):
            return page("page_confirm.html", title=title, s=screen, csrf=csrf_for(secret), action=asking[2])
        confirming.pop(service.digest(secret), None)
        return page("page_item.html", title=title, s=screen, csrf=csrf_for(secret))

    # A risk item about to be left unanswered: the page asks once more (page session hash -> (form, item, action)).
    # Kept in memory: lost on a restart, the item is simply shown again.
    confirming: dict[str, tuple[int, str, str]] = {}

    def apply(secret: str, fields: dict) -> None:
        handover = service.for_page(store(), secret)
        if handover is None:
            return
        key = service.digest(secret)
        if fields.get("action") == "cancel":
            confirming.pop(key, None)
            return
        action = fields.get("action") or ("answer" if "answer" in fields else "")
        value = None
        if action == "answer":
            try:
                value = int(fields.get("answer", ""))
            except ValueError:
                return
        try:
            form = int(fields.get("form", "-1"))
        except ValueError:
            return
        item_id = fields.get("item", "")
        confirmed = confirming.pop(key, None) == (form, item_id, action) and fields.get("confirmed") == "yes"
        try:
            outcome = service.respond(store(), handover, form=form, item_id=item_id, action=action, value=value,
                                      confirmed=confirmed, registry=registry)
        except IptError:
            return  # an answer the item does not have, or a skip the rule forbids: the item is shown again
        if outcome == "confirm":
            confirming[key] = (form, item_id, action)

    async def press(request: Request) -> Response:
        secret = request.cookies.get(COOKIE)
        body = await request.body()
        if not secret or len(body) > MAX_BODY:
            return ended(400)
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()}
        if not hmac.compare_digest(fields.get("csrf", ""), csrf_for(secret)):
            return page("page_message.html", 403, title="Please try again", heading="Please try again",
                        message="That page was out of date.")
        apply(secret, fields)
        return RedirectResponse("/form", status_code=303)

    async def style(request: Request) -> Response:
        return Response(stylesheet(), media_type="text/css")

    async def health(request: Request) -> Response:
        return JSONResponse({"service": "ipt-measures", "record": fingerprint})

    async def not_found(request: Request, exc) -> Response:
        return page("page_message.html", 404, title="Not found", heading="Nothing here",
                    message="Please hand the device back to your clinician.")

    routes = [
        Route("/t/{token}", open_link, methods=["GET"]),
        Route("/form", show, methods=["GET"]),
        Route("/form", press, methods=["POST"]),
        Route("/style.css", style, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    return SecurityHeaders(app, tls=tls)
