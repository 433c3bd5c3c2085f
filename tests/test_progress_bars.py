"""Long work shows a progress bar on standard error when it is a terminal, and nothing when it is not: `ipt demo`,
`ipt export --all`, `ipt backup`, `ipt doctor`. Standard output stays clean either way."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from conftest import run_ipt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

CEILING = 300


def with_terminal_stderr(*args) -> tuple[int, str, str]:
    """Run `ipt ARGS` with stderr on a pseudo-terminal and stdout on a pipe; returns (code, stdout, stderr)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ipt_measures", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ, TERM="xterm"), close_fds=True)
    os.close(slave)
    err = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the process has closed the terminal
                return
            if not chunk:
                return
            err.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=CEILING)
    reader.join(timeout=CEILING)
    os.close(master)
    return proc.returncode, out.decode(), err.decode(errors="replace")


@pytest.mark.parametrize("command, label", [
    (["demo", "--clients", "30"], "Making demo clients"),
    (["export", "--all", "-o", "{tmp}/all.csv"], "Exporting"),
    (["backup", "{tmp}/copy.db"], "Backing up"),
    (["doctor"], "Checking"),
])
def test_long_work_shows_a_bar_on_a_terminal_stderr_only(tmp_path, command, label):
    db = tmp_path / "bars.db"
    if command[0] != "demo":
        assert run_ipt("demo", "--clients", "30", "--db", db).returncode == 0
    args = [a.format(tmp=tmp_path) for a in command] + ["--db", db]
    code, out, err = with_terminal_stderr(*args)
    assert code == 0, out + err
    assert label in err and "100%" in err
    assert label not in out and "%" not in out

    piped = run_ipt(*[a.replace("copy.db", "copy2.db").replace("all.csv", "all2.csv") for a in map(str, args)])
    assert piped.returncode == 0, piped.stderr
    assert label not in piped.stderr and "100%" not in piped.stderr  # a log file gets no bar
