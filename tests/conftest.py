"""Shared fixtures: every test gets its own data directory, database and instruments folder."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ipt_measures.plugins import use_registry

ROOT = Path(__file__).resolve().parent.parent

# `python -m pytest` puts the project root on sys.path, and a stale ipt_measures.egg-info there (left by an
# older setuptools; an editable install no longer refreshes it) would shadow the installed metadata and hide
# every entry point added since. The package is imported through its editable install, never from the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]


@pytest.fixture(scope="session")
def compiled_cache(tmp_path_factory):
    """One compiled-instrument cache for the session, never the user's (tests/test_compiled.py uses its own)."""
    return tmp_path_factory.mktemp("ipt-cache")


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, compiled_cache):
    """Never touch the user's real data: point every path at a temporary folder."""
    data = tmp_path / "ipt-data"
    monkeypatch.setenv("IPT_CACHE_DIR", str(compiled_cache))
    monkeypatch.setenv("IPT_DATA_DIR", str(data))
    monkeypatch.setenv("IPT_DB", str(data / "ipt.db"))
    monkeypatch.setenv("IPT_INSTRUMENTS_DIR", str(data / "instruments"))
    monkeypatch.delenv("IPT_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("IPT_DEBUG", raising=False)
    use_registry(None)
    yield data
    use_registry(None)


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the real `ipt` command line in-process; returns the Click result."""
    from ipt_measures.cli import cli

    def _invoke(*args, input=None):
        use_registry(None)
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return _invoke


def run_ipt(*args, env=None, input=None, timeout=300, pythonpath=None, cwd=None):
    """Run `ipt` as a real subprocess (entry points, process boundaries)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if pythonpath:
        full_env["PYTHONPATH"] = os.pathsep.join([str(p) for p in pythonpath] + [full_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "ipt_measures", *map(str, args)],
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def make_plugin_dist(site: Path, dist_name: str, module_name: str, source: str, entry_name: str | None = None) -> Path:
    """Write a tiny installed distribution (module + dist-info with an entry point) into ``site``.

    Putting ``site`` on PYTHONPATH makes importlib.metadata find the entry point exactly as it finds a
    pip-installed package, so plugin discovery is exercised for real.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist_name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ipt_measures]\n{entry_name or module_name} = {module_name}\n")
    return site


def readme_section(title: str) -> str:
    """The README text under the level-2 heading that starts with ``title``, up to the next level-2 heading.

    Tests that run the README's examples read them through this, so the README is what is tested.
    """
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    in_code = False
    start = None
    out = []
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            if start is not None:
                break
            if line[3:].startswith(title):
                start = line
                continue
        if start is not None:
            out.append(line)
    if start is None:
        raise AssertionError(f"README has no section {title!r}")
    return start + "".join(out)


def db_digest(path, check_integrity: bool = False) -> str:
    """A digest of a database's content (not its bytes: SQLite may touch the header on a read).

    Tests compare digests before and after a refused command to show nothing stored changed.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                h.update(repr(tuple(row)).encode())
        if check_integrity:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    return h.hexdigest()


# A synthetic four-item scale with a subscale and no LOINC code, shared by the export, FHIR, import and
# de-identification tests; loaded from the instruments folder so the real CLI (which rebuilds the
# registry) sees it too.
ZZCHECK = {
    "id": "zzcheck",
    "name": "Synthetic check scale (test only)",
    "short_name": "ZZ-check",
    "citation": "Synthetic test definition; not a published instrument.",
    "licence": "CC0",
    "respondent": "self-report",
    "domain": "other",
    "options": [{"value": v, "label": f"option {v}"} for v in range(4)],
    "items": [{"id": str(i), "text": f"Question {i}"} for i in range(1, 5)],
    "scales": [
        {"id": "total", "name": "Total", "items": ["1", "2", "3", "4"],
         "missing": {"max_missing": 1, "prorate": True, "source": "synthetic"},
         "bands_source": "synthetic", "bands": [{"min": 0, "max": 4, "label": "low"},
                                                 {"min": 5, "max": 8, "label": "mid", "severity": 1},
                                                 {"min": 9, "max": 12, "label": "high", "severity": 2}]},
        {"id": "a", "name": "Part A", "items": ["1", "2"], "missing": {"max_missing": 0, "source": "synthetic"}},
    ],
    "critical": [{"item": "4", "at_least": 3, "message": "item 4 at its highest", "source": "synthetic"}],
}


@pytest.fixture
def zzcheck(isolated_data):
    """The synthetic ZZ-check scale, registered from the test's instruments folder."""
    import json

    folder = isolated_data / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zzcheck.json").write_text(json.dumps(ZZCHECK))
    use_registry(None)
    return ZZCHECK


# -- PostgreSQL: one throwaway cluster per test session (tests/pgcluster.py) -------------------------------


def _postgres_missing() -> str | None:
    """Why the PostgreSQL tests cannot run here (None when they can)."""
    from pgcluster import binaries_dir

    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if binaries_dir() is None:
        return "PostgreSQL's initdb, pg_ctl and postgres are not installed"
    return None


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster started once for the session and removed after. Skipped where PostgreSQL is not
    installed, except under CI (``CI`` set), where .ci/run installs it, so a missing server is a failure."""
    why = _postgres_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run under CI: {why}")
        pytest.skip(why)
    from pgcluster import Cluster

    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty PostgreSQL database on the session's cluster (as its superuser); dropped after."""
    name = pg_cluster.new_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, isolated_data, monkeypatch):
    """Run a test on both engines: ``$IPT_DB`` names a fresh SQLite file or a fresh PostgreSQL database.

    Returns the location (what ``--db`` takes). A test that uses the default record (no ``--db``) or
    ``open_store()`` runs on each engine unchanged."""
    if request.param == "sqlite":
        yield os.environ["IPT_DB"]
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = cluster.new_database()
    url = cluster.url(name)
    monkeypatch.setenv("IPT_DB", url)
    yield url
    cluster.drop_database(name)


# What a PostgreSQL store says while its COPY bulk path is not yet built. Tests that build their record by
# bulk import (as `ipt import` and `ipt demo` do) ask for ``needs_bulk``: they skip on PostgreSQL only while
# the store says so, and run there as soon as the COPY path is in.
BULK_REFUSAL = "bulk import into a PostgreSQL record is not available in this build"
_bulk_ready: list[bool] = []


@pytest.fixture
def needs_bulk(engine):
    """Skip on PostgreSQL while its bulk import (COPY) is not built (see BULK_REFUSAL); nothing on SQLite."""
    if on_server(engine) and not _pg_bulk_ready(engine):
        pytest.skip(f"runs on PostgreSQL once its bulk import (COPY) is in: {BULK_REFUSAL}")


def _pg_bulk_ready(url: str) -> bool:
    if not _bulk_ready:
        from ipt_measures.errors import StoreError
        from ipt_measures.store import open_store

        with open_store(url) as store:
            try:
                store.bulk_import([])
                _bulk_ready.append(True)
            except StoreError as exc:
                if BULK_REFUSAL not in str(exc):
                    raise
                _bulk_ready.append(False)
    return _bulk_ready[0]


def on_server(location) -> bool:
    """Whether a record location names a PostgreSQL database (else a SQLite file)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


@pytest.fixture
def new_record(request, engine, tmp_path):
    """A factory for further fresh record locations on the test's engine: ``new_record("source")`` is a
    SQLite file path (not created) or a new, empty PostgreSQL database URL (dropped after the test)."""
    made: list[str] = []

    def _new(name: str = "other"):
        if not on_server(engine):
            return tmp_path / f"{name}.db"
        cluster = request.getfixturevalue("pg_cluster")
        made.append(cluster.new_database())
        return cluster.url(made[-1])

    yield _new
    if made:
        cluster = request.getfixturevalue("pg_cluster")
        for database in made:
            cluster.drop_database(database)


def on_the_engine(args: list[str], location) -> list[str]:
    """A README command as run against ``location``: as written for SQLite; for a PostgreSQL record the same
    command with its ``--db FILE`` left out, so the record is the one ``IPT_DB=postgresql://...`` names."""
    if not on_server(location):
        return args
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--db":
            skip = True
        else:
            out.append(arg)
    return out


def _pg_connect(location):
    import psycopg

    return psycopg.connect(location, autocommit=True)


def peek(location, sql: str, params=()) -> list[tuple]:
    """Rows of a read-only query run directly against a record (either engine), beside the store, as a
    second opinion on what is stored. Write the SQL with ``?`` placeholders; it must be portable."""
    if on_server(location):
        with _pg_connect(location) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), params).fetchall()]
    conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def record_digest(location, check_integrity: bool = False) -> str:
    """A digest of every table of a record on either engine (see :func:`db_digest` for SQLite files).

    On PostgreSQL every row of every table in the public schema, in a fixed order."""
    if not on_server(location):
        return db_digest(location, check_integrity)
    return hashlib.sha256(server_dump(location).encode()).hexdigest()


def export_all_formats(invoke, db) -> dict[str, str]:
    """``ipt export --all`` of a record in csv-long (with items), JSON and FHIR: what two records are compared by
    when they should hold the same thing (a copy, or the same import on both engines)."""
    out = {}
    for fmt, extra in (("csv-long", ["--items"]), ("json", []), ("fhir", [])):
        result = invoke("export", "--all", "--format", fmt, *extra, "--db", db)
        assert result.exit_code == 0, result.output
        out[fmt] = result.output
    return out


def server_dump(location) -> str:
    """Every row of every table in a PostgreSQL record's public schema, as text, in a fixed order (for a
    digest, or to show a secret is nowhere in the record)."""
    out = []
    with _pg_connect(location) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for table in tables:
            out.append(table)
            out.extend(sorted(repr(tuple(r)) for r in conn.execute(f'SELECT * FROM "{table}"')))
    return "\n".join(out)


def audit_actor(location) -> str:
    """Who the audit names for a change made through ``location``: the operating-system login on SQLite,
    the server's ``session_user`` on PostgreSQL (issue 12 part 3)."""
    if on_server(location):
        return peek(location, "SELECT session_user")[0][0]
    import getpass

    return getpass.getuser()


class Raw:
    """A direct autocommit connection to a record beside the store (on PostgreSQL as the URL's role, in the
    tests the superuser): for attempts the store itself would never make, to show the database refuses them.
    SQL uses ``?`` placeholders; ``Raw.Error`` is the driver's error class."""

    def __init__(self, location):
        self.server = on_server(location)
        if self.server:
            import psycopg

            self.conn = _pg_connect(location)
            self.Error = psycopg.Error
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)
            self.Error = sqlite3.DatabaseError

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s") if self.server else sql, params)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
