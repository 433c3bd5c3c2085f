"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, a Unix socket there, a random port.

Started once per test session (``pg_cluster`` in conftest.py), removed after. PostgreSQL refuses to run as
root, so under root (CI) the cluster runs as the ``postgres`` user through ``runuser``. Connections use the
socket only (``listen_addresses = ''``): no network. Trust authentication on that private socket lets the
tests connect as any role they create, which is how clinician A, clinician B and a supervisor are played.
Each test that wants a record gets a database of its own (:meth:`Cluster.new_database`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Optional

BINARIES = ("initdb", "pg_ctl", "postgres")


def binaries_dir() -> Optional[Path]:
    """Where initdb, pg_ctl and postgres are (PATH, then Debian's versioned folders), or None."""
    found = shutil.which("initdb")
    if found and all(shutil.which(b) for b in BINARIES):
        return Path(found).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if all((folder / b).exists() for b in BINARIES):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running PostgreSQL cluster on a Unix socket in a temporary folder."""

    superuser = "postgres"

    def __init__(self, options: str = "") -> None:
        """``options``: more ``-c name=value`` server settings, after (and so over) the tests' own."""
        self.options = options
        folder = binaries_dir()
        if folder is None:
            raise RuntimeError("PostgreSQL's initdb, pg_ctl and postgres are not installed")
        self.bin = folder
        self.root = Path(tempfile.mkdtemp(prefix="ipt-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o700 if not self.as_root else 0o755)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self) -> "Cluster":
        done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.superuser, "-E", "UTF8",
                         "--no-sync", "--locale=C")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")
        options = (f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=100"
                   f" -c shared_buffers=32MB {self.options}")
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "-t",
                         "120", "start")
        if done.returncode:
            log = (self.root / "log").read_text(errors="replace")[-800:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()[-300:]} {log}")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: Optional[str] = None) -> str:
        """A libpq URL for a database on this cluster's socket, as ``user`` (default the superuser)."""
        return f"postgresql://{user or self.superuser}@/{database}?host={self.root}&port={self.port}"

    def connect(self, database: str = "postgres", user: Optional[str] = None):
        import psycopg

        return psycopg.connect(self.url(database, user), autocommit=True)

    def new_database(self, owner: Optional[str] = None) -> str:
        """A fresh, empty database; returns its name."""
        name = "t_" + uuid.uuid4().hex[:12]
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
