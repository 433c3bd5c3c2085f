"""`ipt handover` as a clinician runs it: its own server, the link, then progress and alerts as they happen."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from webclient import Page

from ipt_measures import record
from ipt_measures.store import open_store

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Watcher:
    """`ipt handover ...` in a real process; its stdout lines arrive on a queue."""

    def __init__(self, *args):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "ipt_measures", "handover", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.out.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"{pattern!r} not seen in:\n" + "\n".join(self.out))


@pytest.fixture
def db(isolated_data):
    path = isolated_data / "ipt.db"
    with open_store(path) as store:
        record.add_client(store, "c001")
        record.start_course(store, "c001", ["grief"])
        record.start_session(store, "c001")
    return path


def test_handover_watches_progress_and_shows_a_critical_answer_the_page_never_sees(db, invoke):
    port = free_port()
    watcher = Watcher("c001", "phq9", "gad7", "--port", port, "--db", db)
    try:
        url = watcher.wait_for(r"(http://127\.0\.0\.1:\d+/t/\S+)").group(1)
        page = Page(url.split("/t/")[0]).get(url)
        watcher.wait_for(r"The link was opened")
        for value in (1, 2, 0):
            page.answer(value)
        watcher.wait_for(r"^PHQ-9: item 4 of 10$")
        for value in (1, 1, 0, 2, 1, 3):  # item 9: "nearly every day"
            page.answer(value)
        watcher.wait_for(r"!!! CRITICAL: .*")
        page.answer(1)
        watcher.wait_for(r"^PHQ-9: finished$")
        for value in (0, 1, 0, 1, 0, 1, 0, 0):
            page.answer(value)
        watcher.wait_for(r"All forms finished")
        time.sleep(1)
        page.get("/form")  # a slow tablet fetching the last page after the watcher saw the end
        assert "Thank you, please hand the device back" in page.body
        assert watcher.proc.wait(timeout=30) == 0
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
    critical = next(line for line in watcher.out if "CRITICAL" in line)
    alerts = invoke("alerts", "c001", "--db", db)
    assert alerts.exit_code == 0 and "critical" in alerts.output.lower() and "phq9" in alerts.output.lower()
    received = "\n".join(page.seen)
    message = critical.split("CRITICAL:", 1)[1].strip()
    assert message.split(" ", 1)[1][:30] not in received  # the alert's words never reach the page
    assert "critical" not in received.lower() and "Thank you, please hand the device back" in page.body
    with open_store(db) as store:
        assert any(a["kind"] == "critical-item" and a["item_id"] == "9" for a in store.alerts("c001"))


def test_handover_declined_risk_item_raises_the_unanswered_risk_alert(db):
    port = free_port()
    watcher = Watcher("c001", "phq9", "--port", port, "--db", db)
    try:
        url = watcher.wait_for(r"(http://127\.0\.0\.1:\d+/t/\S+)").group(1)
        page = Page(url.split("/t/")[0]).get(url)
        for value in (0, 0, 0, 0, 0, 0, 0, 0):
            page.answer(value)
        page.press("decline")  # item 9: asked once more, as at the terminal
        assert "Are you sure you want to leave this question unanswered?" in page.body
        page.post({**page.hidden(), "action": "decline", "confirmed": "yes"})
        watcher.wait_for(r"(WARNING|CRITICAL).*")
        page.answer(0)
        watcher.wait_for(r"All forms finished")
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
    with open_store(db) as store:
        assert any(a["kind"] == "risk-item-unanswered" for a in store.alerts("c001"))
