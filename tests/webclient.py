"""Test helpers for the self-completion page: a real uvicorn server in a thread, and a client that only speaks HTTP."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.cookiejar import CookieJar


def two_clients(path):
    """A record at ``path`` with clients c001 and c002, each in a grief course at session 1. Returns the path."""
    from ipt_measures import record
    from ipt_measures.store import open_store

    with open_store(path) as store:
        for client in ("c001", "c002"):
            record.add_client(store, client)
            record.start_course(store, client, ["grief"])
            record.start_session(store, client)
    return path


@contextmanager
def running_server(db_path, host="127.0.0.1", cert=None, key=None):
    """``ipt serve``'s own server (uvicorn) on a free port of 127.0.0.1, for the length of the block."""
    from ipt_measures.web import server

    srv = server.make_server(db_path, host, 0, cert, key)
    thread = server.start_in_thread(srv)
    try:
        yield f"{'https' if cert else 'http'}://127.0.0.1:{server.bound_port(srv)}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


class Page:
    """One browser's worth of HTTP: a cookie jar, redirects followed, every body kept for inspection."""

    def __init__(self, base):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.seen: list[str] = []
        self.status = 0
        self.headers = {}
        self.body = ""

    def _go(self, request):
        try:
            with self.opener.open(request, timeout=30) as r:
                self.status, self.headers, self.body = r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            self.status, self.headers, self.body = e.code, dict(e.headers), e.read().decode()
        self.seen.append(self.body)
        return self

    def get(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        return self._go(urllib.request.Request(url))

    def post(self, fields: dict):
        data = urllib.parse.urlencode(fields).encode()
        return self._go(urllib.request.Request(self.base + "/form", data=data, method="POST"))

    def field(self, name):
        m = re.search(rf'name="{name}" value="([^"]*)"', self.body)
        return html.unescape(m.group(1)) if m else None

    def hidden(self) -> dict:
        return {k: self.field(k) for k in ("csrf", "form", "item")}

    def position(self):
        """("PHQ-9", 3, 10) from the page on screen, or None on a page without an item."""
        name = re.search(r'<h1 class="form-name">([^<]*)</h1>', self.body)
        where = re.search(r'<p class="progress">(\d+) of (\d+)</p>', self.body)
        if not (name and where):
            return None
        return html.unescape(name.group(1)), int(where.group(1)), int(where.group(2))

    def answer(self, value):
        return self.post({**self.hidden(), "answer": str(value)})

    def press(self, action):
        return self.post({**self.hidden(), "action": action})
