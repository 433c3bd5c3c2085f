"""`ipt administer` and `ipt session start` at a real terminal (a pseudo-terminal): the prompt after an invalid
key, readline line editing, Enter after `b` keeping the saved answer, and the question before a same-day or
future session. Waits are event-driven (a condition the reader thread signals) with generous ceilings."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import pytest

from conftest import run_ipt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

CEILING = 120  # seconds: a ceiling for a loaded machine, not an expected time; every wait ends on its event


class Terminal:
    """`ipt ARGS` on a pseudo-terminal: stdin, stdout and stderr are all the terminal, as for a person."""

    def __init__(self, *args):
        import pty  # noqa: F401 -- POSIX only; os.openpty needs it on some platforms

        master, slave = os.openpty()
        env = dict(os.environ, TERM="xterm", NO_COLOR="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "ipt_measures", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True, start_new_session=True)
        os.close(slave)
        self.master = master
        self.out = b""
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            with self.changed:
                if not chunk:
                    self.closed = True
                    self.changed.notify_all()
                    return
                self.out += chunk
                self.changed.notify_all()

    closed = False

    def wait_for(self, text: str, after: int = 0) -> int:
        """Wait until ``text`` appears at or after offset ``after``; returns the offset just past it."""
        wanted = text.encode()
        deadline = time.monotonic() + CEILING
        with self.changed:
            while True:
                at = self.out.find(wanted, after)
                if at >= 0:
                    return at + len(wanted)
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise AssertionError(f"never saw {text!r}; output:\n{self.out.decode(errors='replace')}")
                self.changed.wait(left)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=CEILING)
        self.reader.join(timeout=CEILING)
        os.close(self.master)
        return code


def setup(client: str, *extra_sessions: str) -> None:
    for args in (("clients", "add", client), ("course", "start", client, "--problem-area", "grief", "--start", "2026-02-02"),
                 ("session", "start", client, "--date", "2026-02-02"),
                 *(("session", "start", client, "--date", d, "--yes") for d in extra_sessions)):
        result = run_ipt(*args)
        assert result.returncode == 0, result.stderr


def responses(data) -> dict:
    db = sqlite3.connect(data / "ipt.db")
    try:
        return {r[0]: r[1] for r in db.execute("SELECT item_id, value FROM responses")}
    finally:
        db.close()


def test_invalid_key_shows_the_prompt_again_and_arrow_keys_edit_the_line(isolated_data):
    setup("t1")
    term = Terminal("administer", "t1", "gad7")
    at = term.wait_for("Item 1 of 8")
    at = term.wait_for("> ", at)
    term.send("x\r")
    at = term.wait_for("is not an answer", at)
    at = term.wait_for("> ", at)  # the prompt again, after the message
    # "21", Left arrow, Backspace: readline deletes the "2" and leaves "1". Read without line editing, the
    # terminal would pass on "21" and the escape sequence, which is not an answer.
    term.send("21\x1b[D\x7f\r")
    at = term.wait_for("Item 2 of 8", at)
    term.send("q\r")
    assert term.finish() == 0
    assert responses(isolated_data) == {"1": 1}


def test_enter_after_back_keeps_the_saved_answer(isolated_data):
    setup("t2")
    term = Terminal("administer", "t2", "gad7")
    at = term.wait_for("Item 1 of 8")
    term.send("3\r")
    at = term.wait_for("Item 2 of 8", at)
    term.send("b\r")
    at = term.wait_for("Item 1 of 8", at)
    at = term.wait_for("saved answer: 3", at)
    term.send("\r")  # Enter: keep it
    at = term.wait_for("Item 2 of 8", at)
    term.send("q\r")
    assert term.finish() == 0
    assert responses(isolated_data) == {"1": 3}


def test_enter_after_back_keeps_the_saved_answer_without_a_terminal(invoke):
    """The same through the engine with piped input: Enter at a saved answer moves on and keeps it."""
    invoke("clients", "add", "t3")
    invoke("course", "start", "t3", "--problem-area", "grief", "--start", "2026-02-02")
    invoke("session", "start", "t3", "--date", "2026-02-02")
    result = invoke("administer", "t3", "gad7", input="2\nb\n\n1\n1\n1\n1\n1\n1\ns\n")
    assert result.exit_code == 0, result.output
    assert "Total: 8" in result.output  # 2 kept + six 1s
    assert "No answer given" not in result.output


def test_empty_line_at_an_unanswered_item_is_still_refused(invoke):
    invoke("clients", "add", "t4")
    invoke("course", "start", "t4", "--problem-area", "grief", "--start", "2026-02-02")
    invoke("session", "start", "t4", "--date", "2026-02-02")
    result = invoke("administer", "t4", "gad7", input="\nq\n")
    assert "No answer given" in result.output
    # The prompt is shown again after the message (piped input: printed, not through readline).
    assert result.output.split("No answer given", 1)[1].split("\n", 1)[1].startswith("> ")


def test_a_future_session_date_is_refused_before_anything_is_asked(isolated_data):
    setup("t8")
    term = Terminal("session", "start", "t8", "--date", (date.today() + timedelta(days=3)).isoformat())
    assert term.finish() != 0
    assert b"Error:" in term.out and b"anyway" not in term.out
    listed = run_ipt("session", "list", "t8", "--json")
    assert [s["number"] for s in __import__("json").loads(listed.stdout)] == [1]


@pytest.mark.parametrize("when, why", [
    ("2026-02-02", "session 1 was already held on 2026-02-02"),
])
def test_same_day_session_asks_first(isolated_data, when, why):
    setup("t5")
    term = Terminal("session", "start", "t5", "--date", when)
    at = term.wait_for(why)
    term.wait_for("Start the session anyway? [y/N]", at)
    term.send("\r")  # the default is no
    assert term.finish() == 1
    listed = run_ipt("session", "list", "t5", "--json")
    assert [s["number"] for s in __import__("json").loads(listed.stdout)] == [1]

    term = Terminal("session", "start", "t5", "--date", when)
    term.wait_for("Start the session anyway? [y/N]")
    term.send("y\r")
    assert term.finish() == 0
    listed = run_ipt("session", "list", "t5", "--json")
    assert [s["number"] for s in __import__("json").loads(listed.stdout)] == [1, 2]


def test_an_ordinary_next_session_asks_nothing(isolated_data):
    setup("t6")
    term = Terminal("session", "start", "t6", "--date", "2026-02-09")
    assert term.finish() == 0
    assert b"anyway" not in term.out and b"Session 2 of t6" in term.out


def test_without_a_terminal_a_same_day_session_is_noted_on_stderr(invoke):
    invoke("clients", "add", "t7")
    invoke("course", "start", "t7", "--problem-area", "grief", "--start", "2026-02-02")
    invoke("session", "start", "t7", "--date", "2026-02-02")
    result = invoke("session", "start", "t7", "--date", "2026-02-02")
    assert result.exit_code == 0 and "already held on 2026-02-02" in result.stderr
    quiet = invoke("session", "start", "t7", "--date", "2026-02-02", "--yes")
    assert quiet.exit_code == 0 and "already held" not in quiet.stderr
