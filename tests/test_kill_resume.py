"""A real `ipt administer` process killed with SIGKILL mid-administration loses nothing already answered,
and the next `ipt administer CLIENT` resumes at the next item.

PHQ-9 total summed by hand (Kroenke, Spitzer & Williams 2001): 2+1+3+0 before the kill, 1+1+0+2+0 after
= 10, "moderate" (10-14).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from conftest import run_ipt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


CEILING = 120  # seconds: generous for a loaded machine; every wait ends as soon as its event happens


class Live:
    """An `ipt` subprocess whose output is collected as it arrives, to answer item by item.

    Waiting is event-driven: the reader thread signals a condition on every chunk (and at end of output), so
    a wait ends the moment the text arrives, however slow the machine, and fails only past the ceiling.
    """

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ipt_measures", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
        )
        self.out = b""
        self.ended = False
        self.changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            with self.changed:
                if not chunk:
                    self.ended = True
                    self.changed.notify_all()
                    return
                self.out += chunk
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = CEILING) -> None:
        wanted = text.encode()
        with self.changed:
            if not self.changed.wait_for(lambda: wanted in self.out or self.ended, timeout=timeout) or (
                wanted not in self.out
            ):
                raise AssertionError(f"never saw {text!r}; output so far:\n{self.out.decode(errors='replace')}")

    def type(self, line: str) -> None:
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()


def setup_client(client: str) -> None:
    for args in (("clients", "add", client),
                 ("course", "start", client, "--problem-area", "role-disputes", "--sessions", "12", "--start", "2026-02-02"),
                 ("session", "start", client, "--date", "2026-02-02")):
        result = run_ipt(*args)
        assert result.returncode == 0, result.stderr


def test_sigkill_mid_administration_then_resume(isolated_data):
    setup_client("k1")
    live = Live("administer", "k1", "phq9")
    before_kill = [2, 1, 3, 0]
    for n, value in enumerate(before_kill, start=1):
        live.wait_for(f"Item {n} of 10")
        live.type(str(value))
    live.wait_for("Item 5 of 10")  # item 4 is on disk before item 5 is shown
    live.proc.send_signal(signal.SIGKILL)
    live.proc.wait(timeout=CEILING)
    assert live.proc.returncode == -signal.SIGKILL

    db = sqlite3.connect(isolated_data / "ipt.db")
    rows = db.execute("SELECT item_id, value, status FROM responses ORDER BY CAST(item_id AS INTEGER)").fetchall()
    assert rows == [("1", 2, "answered"), ("2", 1, "answered"), ("3", 3, "answered"), ("4", 0, "answered")]
    assert db.execute("SELECT status FROM administrations").fetchall() == [("in-progress",)]
    db.close()

    resumed = run_ipt("administer", "k1", input="1\n1\n0\n2\n0\n1\n")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at item 5 of 10 (4 already answered and saved)" in resumed.stdout
    for n in range(1, 5):
        assert f"Item {n} of 10" not in resumed.stdout
    assert "Total: 10, moderate" in resumed.stdout

    db = sqlite3.connect(isolated_data / "ipt.db")
    assert db.execute("SELECT status FROM administrations").fetchall() == [("complete",)]
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 10
    assert db.execute("SELECT total FROM scores WHERE current = 1").fetchone()[0] == 10


def test_closed_terminal_mid_administration_keeps_answers(isolated_data):
    """Input closing (the terminal going away) exits cleanly with the resume command; nothing is lost."""
    setup_client("k2")
    result = run_ipt("administer", "k2", "gad7", input="3\n3\n")
    assert result.returncode == 1
    assert "Saved 2 answers; resume with: ipt administer k2" in result.stderr
    assert "Traceback" not in result.stderr
    db = sqlite3.connect(isolated_data / "ipt.db")
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 2


def test_ctrl_c_mid_administration_exits_cleanly_with_the_resume_command(isolated_data):
    setup_client("k3")
    live = Live("administer", "k3", "phq9")
    live.wait_for("Item 1 of 10")
    live.type("2")
    live.wait_for("Item 2 of 10")
    live.proc.send_signal(signal.SIGINT)
    assert live.proc.wait(timeout=CEILING) == 130
    err = live.proc.stderr.read().decode()
    assert "Interrupted. Saved 1 answer; resume with: ipt administer k3" in err and "Traceback" not in err
    resumed = run_ipt("administer", "k3", input="0\n" * 9)
    assert "Resuming at item 2 of 10" in resumed.stdout and "Total: 2, minimal" in resumed.stdout
