"""Faults with real processes, no mocks: SIGKILL mid-write, eight writers at once, a full disk, a read-only disk.

Each test states the invariant it protects: the database passes PRAGMA integrity_check, every committed
answer is there, a re-run import adds no duplicate, concurrent writers lose nothing, and a write that
cannot happen is refused with one clear line while everything already stored stays as it was.

Random kill points come from one seed printed in the test output (set IPT_FAULT_SEED to replay a run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date

import pytest

from ipt_measures import demo
from ipt_measures.store import open_store

from conftest import ROOT, Raw, on_server, peek

SEED = int(os.environ.get("IPT_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
AS_OF = date(2026, 11, 2)
PY = sys.executable


def rng(name):
    print(f"fault seed {SEED} ({name}); replay with IPT_FAULT_SEED={SEED}")
    return random.Random(f"{SEED}/{name}")


def integrity(path):
    """SQLite's integrity_check of the file; on PostgreSQL "ok" (its pages and their checksums are the
    server's to keep: what these tests check on both engines is every record whole and every answer there)."""
    if on_server(path):
        return "ok"
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def rows(path, sql, params=()):
    return peek(path, sql, params)


def stored_answers(path):
    """import_key -> sorted (item, value, status) for every administration in the database."""
    out: dict[str, list] = {}
    for key, item, value, status in rows(path, "SELECT a.import_key, r.item_id, r.value, r.status FROM administrations a"
                                               " JOIN responses r ON r.administration_id = a.id"):
        out.setdefault(key, []).append((item, value, status))
    return {k: sorted(v) for k, v in out.items()}


def assert_whole_records(path):
    """No half-written record: every administration has answers and exactly one current score."""
    assert rows(path, "SELECT count(*) FROM administrations a WHERE NOT EXISTS"
                      " (SELECT 1 FROM responses r WHERE r.administration_id = a.id)") == [(0,)]
    assert rows(path, "SELECT count(*) FROM administrations a WHERE (SELECT count(*) FROM scores s"
                      " WHERE s.administration_id = a.id AND s.current = 1) != 1") == [(0,)]


# -- SIGKILL during a bulk import ------------------------------------------------------------------------

IMPORTER = """
import sys
from datetime import date
from ipt_measures import demo
from ipt_measures.store import open_store

db, clients, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(db)

def announced(records):
    # bulk_import asks for record number k*batch+1 only after batch k is committed: say so, then go on.
    for n, record in enumerate(records):
        if n and n % batch == 0:
            print("committed", n, flush=True)
        yield record

counts = store.bulk_import(announced(demo.generate(clients, 17, as_of=date(2026, 11, 2))), batch_size=batch)
print("done", counts["stored"], flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_sigkill_during_bulk_import_loses_no_committed_record_and_reruns_clean(engine, needs_bulk, round_):
    r = rng(f"import-{round_}")
    db = engine
    open_store(db).close()
    clients, batch = 60, 150
    expected = {rec["administration"]["import_key"]: sorted(rec["responses"])
                for rec in demo.generate(clients, 17, as_of=AS_OF)}
    # batches announced before the kill; at least 3 batches are left, so the kill lands before the end
    kill_after = r.randint(1, max(1, len(expected) // batch - 3))
    extra_delay = r.uniform(0, 0.05)  # and a little more, so the kill lands inside a batch as often as not
    proc = subprocess.Popen([PY, "-c", IMPORTER, str(db), str(clients), str(batch)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    committed = 0
    try:
        for line in proc.stdout:
            if line.startswith("committed"):
                committed = int(line.split()[1])
                if committed >= kill_after * batch:
                    time.sleep(extra_delay)
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert integrity(db) == "ok"
    assert_whole_records(db)
    after_kill = stored_answers(db)
    assert len(after_kill) >= committed, "a batch reported committed is missing"
    for key, answers in after_kill.items():  # what is there is exactly what was imported
        assert answers == sorted(tuple(a) for a in expected[key])

    again = subprocess.run([PY, "-c", IMPORTER, str(db), str(clients), str(batch)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    assert again.returncode == 0, again.stderr
    final = stored_answers(db)
    assert final == {k: sorted(tuple(a) for a in v) for k, v in expected.items()}
    assert rows(db, "SELECT count(*), count(DISTINCT import_key) FROM administrations") == [(len(expected),) * 2]
    assert rows(db, "SELECT count(*) FROM courses") == [(clients,)]
    assert integrity(db) == "ok"


# -- SIGKILL during an administration in session ------------------------------------------------------------

PHQ9_ANSWERS = [2, 1, 3, 0, 2, 1, 1, 2, 0, 1]  # total 12: hand sum of items 1-9, 2+1+3+0+2+1+1+2+0;
# item 10 (difficulty) is recorded but not scored (Kroenke et al. 2001)


def _prepared_client(db):
    with open_store(db) as store:
        store.add_client("c1")
        course = store.start_course("c1", "2026-11-02", 16, ["grief"], None)
        store.add_session(course["id"], 1, "2026-11-02", "initial")


def _read_until(stream, text, deadline):
    seen = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}; output was:\n{seen}")


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_sigkill_during_administration_keeps_every_answer_given(engine, round_):
    """`ipt administer` shows item k only after answer k-1 is committed: kill it there, nothing is lost."""
    r = rng(f"administer-{round_}")
    db = engine
    _prepared_client(db)
    kill_at = r.randint(2, 10)  # the item on screen when the process dies
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([PY, "-m", "ipt_measures", "administer", "c1", "phq9", "--db", str(db)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    try:
        for k in range(1, kill_at):
            _read_until(proc.stdout, f"Item {k} of", deadline)
            proc.stdin.write(f"{PHQ9_ANSWERS[k - 1]}\n")
            proc.stdin.flush()
        _read_until(proc.stdout, f"Item {kill_at} of", deadline)
        if r.random() < 0.5:  # sometimes die while the next answer is being written
            proc.stdin.write(f"{PHQ9_ANSWERS[kill_at - 1]}\n")
            proc.stdin.flush()
            time.sleep(r.uniform(0, 0.02))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert integrity(db) == "ok"
    got = dict(rows(db, "SELECT item_id, value FROM responses"))
    for k in range(1, kill_at):
        assert got.get(str(k)) == PHQ9_ANSWERS[k - 1], f"answer to item {k} lost (killed at item {kill_at})"
    assert len(got) in (kill_at - 1, kill_at)
    status = rows(db, "SELECT status FROM administrations")
    if len(got) == len(PHQ9_ANSWERS) and status == [("complete",)]:
        pass  # the last answer was sent and the process finished its work before the kill landed
    else:
        assert status == [("in-progress",)]
        # Resume: the rest of the answers, from wherever it stopped.
        rest = "".join(f"{v}\n" for v in PHQ9_ANSWERS[len(got):])
        done = subprocess.run([PY, "-m", "ipt_measures", "administer", "c1", "--db", str(db)], input=rest,
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert dict(rows(db, "SELECT item_id, value FROM responses")) == {str(i + 1): v for i, v in enumerate(PHQ9_ANSWERS)}
    assert rows(db, "SELECT a.status, s.total FROM administrations a JOIN scores s ON s.administration_id = a.id") == \
        [("complete", 12.0)]


# -- eight writers at once ----------------------------------------------------------------------------------

WRITER = """
import sys, time
from ipt_measures.store import open_store
db, worker, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
store = open_store(db)
while time.time() < start:
    time.sleep(0.001)
score = {"instrument": "phq9", "instrument_version": "1", "scorer": "test/1",
         "total": {"id": "total", "name": "t", "value": 9, "band": None, "band_severity": None,
                   "answered": 9, "missing": 0, "prorated": False, "note": None}, "subscales": [], "flags": []}
for i in range(n):
    client = f"w{worker}-{i}"
    store.add_client(client)
    course = store.start_course(client, "2026-11-02", 12, ["role-disputes"], None)
    session = store.add_session(course["id"], 1, "2026-11-02", "initial")
    admin = store.start_administration(session["id"], "phq9", "1", "self-report")
    for item in range(1, 10):  # one transaction per answer: the most contended pattern there is
        store.record_response(admin, str(item), (worker + i + item) % 4)
    store.complete_administration(admin, lambda a, r: (score, []))
print("ok", flush=True)
"""

IMPORT_WRITER = """
import sys, time
from datetime import date
from ipt_measures import demo
from ipt_measures.store import open_store
db, first, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
store = open_store(db)
while time.time() < start:
    time.sleep(0.001)
print(store.bulk_import(demo.generate(n, 23, first=first, as_of=date(2026, 11, 2)), batch_size=100)["stored"], flush=True)
"""


def _run_together(scripts, db, start_in=3.0):
    start = time.time() + start_in  # every process is up and waiting before the first one writes
    procs = [subprocess.Popen([PY, "-c", code, str(db), *map(str, args), str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for code, args in scripts]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    return [out for out, _ in outs]


@pytest.mark.slow
def test_eight_processes_answering_at_once_lose_nothing(engine):
    db = engine
    open_store(db).close()
    n = 12
    _run_together([(WRITER, (w, n)) for w in range(8)], db)
    assert integrity(db) == "ok"
    assert rows(db, "SELECT count(*) FROM administrations WHERE status = 'complete'") == [(8 * n,)]
    got = rows(db, "SELECT c.client_id, r.item_id, r.value FROM responses r JOIN administrations a ON a.id = r.administration_id"
                   " JOIN sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id")
    expected = {(f"w{w}-{i}", str(item), (w + i + item) % 4) for w in range(8) for i in range(n) for item in range(1, 10)}
    assert set(got) == expected and len(got) == len(expected)


@pytest.mark.slow
def test_eight_processes_importing_at_once_lose_nothing(engine, needs_bulk):
    """Eight importers of different clients at once: every record arrives once."""
    db = engine
    open_store(db).close()
    per = 15
    outs = _run_together([(IMPORT_WRITER, (1 + w * per, per)) for w in range(8)], db)
    expected = sum(1 for _ in demo.generate(8 * per, 23, as_of=AS_OF, scored=False))
    assert sum(int(o.split()[-1]) for o in outs) == expected
    assert rows(db, "SELECT count(*), count(DISTINCT import_key) FROM administrations") == [(expected, expected)]
    assert integrity(db) == "ok"
    assert_whole_records(db)


@pytest.mark.slow
def test_eight_processes_importing_the_same_file_store_it_once(engine, needs_bulk):
    """The same import started eight times at once (a double-clicked script): one copy, no crash."""
    db = engine
    open_store(db).close()
    per = 30
    outs = _run_together([(IMPORT_WRITER, (1, per)) for _ in range(8)], db)
    expected = sum(1 for _ in demo.generate(per, 23, as_of=AS_OF, scored=False))
    assert sum(int(o.split()[-1]) for o in outs) == expected
    assert rows(db, "SELECT count(*), count(DISTINCT import_key) FROM administrations") == [(expected, expected)]
    assert rows(db, "SELECT count(*) FROM clients") == [(per,)]
    assert rows(db, "SELECT count(*) FROM courses") == [(per,)]
    assert integrity(db) == "ok"
    assert_whole_records(db)


# -- a full disk and a read-only disk -------------------------------------------------------------------------
#
# SQLite only: these fill and freeze the disk under a database file. A PostgreSQL record's disk is the
# server's; what the client must do there (one line, nothing half-written) is shown by the lost-connection
# test below.
#
# As root, file modes are ignored, so chmod alone cannot make a database read-only. The disk scenarios run
# in a child process inside its own user and mount namespace (`unshare -rm`), on a small tmpfs: it fills
# the tmpfs for real (ENOSPC) and remounts it read-only for real (EROFS); the mount is private to the child
# and vanishes with it. The read-only *file* scenario (chmod 0444) runs as a non-root user directly, or as
# root inside a bare user namespace (`unshare -U`), where root keeps its files but loses DAC override.
# Where neither is possible the test is skipped and says why.

SANDBOX = r"""
import json, os, sqlite3, subprocess, sys
from datetime import date
mnt, scenario, py = sys.argv[1], sys.argv[2], sys.executable
os.makedirs(mnt, exist_ok=True)
if scenario.startswith("ns-"):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
db = os.path.join(mnt, "ipt.db")
env = {**os.environ, "IPT_DATA_DIR": os.path.join(mnt, "data")}
out = {}

def ipt(*args):
    p = subprocess.run([py, "-m", "ipt_measures", *args, "--db", db], capture_output=True, text=True, env=env)
    return {"code": p.returncode, "stdout": p.stdout, "stderr": "\n".join(
        l for l in p.stderr.splitlines() if not l.startswith("ipt: plugin "))}

def content():
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        got = {t: c.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
               for t in ("clients", "courses", "sessions", "administrations", "responses", "scores")}
        got["integrity"] = c.execute("PRAGMA integrity_check").fetchone()[0]
        return json.loads(json.dumps(got))
    finally:
        c.close()

out["setup"] = ipt("demo", "--clients", "4", "--seed", "3", "--as-of", "2026-11-02")
c1 = "demo-9001"  # a client with an open course, added by hand (the demo refuses non-demo ids)
for step in (["clients", "add", c1], ["course", "start", c1, "--problem-area", "grief"], ["session", "start", c1]):
    result = ipt(*step)
    if result["code"]:
        out["setup"] = result
out["before"] = content()

if scenario == "ns-full":
    from ipt_measures import demo
    from ipt_measures.store import open_store
    store = open_store(db)  # already open when the disk fills: the common case in a long session
    with open(os.path.join(mnt, "filler"), "wb", buffering=0) as f:  # unbuffered: closing it cannot fail
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    try:
        store.bulk_import(demo.generate(300, 4, first=5, as_of=date(2026, 11, 2)))
        out["open_store_write"] = "no error"
    except Exception as exc:
        out["open_store_write"] = f"{type(exc).__name__}: {exc}"
    store.close()
    out["cli_demo"] = ipt("demo", "--clients", "300", "--seed", "3", "--as-of", "2026-11-02")
    out["cli_answer"] = ipt("administer", c1, "phq9", "--answers", "1,1,1,1,1,1,1,1,0")
    out["cli_backup"] = ipt("backup", os.path.join(mnt, "copy.db"))
    out["leftovers"] = sorted(f for f in os.listdir(mnt) if "copy" in f)
    out["during"] = content()
    os.remove(os.path.join(mnt, "filler"))
    out["after_space"] = ipt("administer", c1, "phq9", "--answers", "1,1,1,1,1,1,1,1,0")
else:
    if scenario == "ns-readonly":
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    else:  # a read-only database file (file modes are honoured: not root, or root without DAC override)
        os.chmod(db, 0o444)
    out["cli_demo"] = ipt("demo", "--clients", "30", "--seed", "3", "--as-of", "2026-11-02")
    out["cli_answer"] = ipt("administer", c1, "phq9", "--answers", "1,1,1,1,1,1,1,1,0")
    out["cli_doctor"] = ipt("doctor")
    if scenario == "ns-readonly":  # read it back once writable again (a WAL database needs its -shm file)
        subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
    out["during"] = content()
out["after"] = content()
print(json.dumps(out))
"""


def _sandbox(tmp_path, kind):
    """Run the scenario in a namespace with a real tmpfs if possible; returns its JSON report."""
    mnt = tmp_path / "mnt"
    unshare = shutil.which("unshare")
    if kind == "readonly-file":
        cmd = [PY, "-c", SANDBOX, str(mnt), "chmod-readonly"]
        if os.geteuid() == 0:
            if not unshare or subprocess.run([unshare, "-U", "true"], capture_output=True).returncode != 0:
                pytest.skip("as root, needs `unshare -U` for file modes to be honoured")
            cmd = [unshare, "-U", *cmd]
        unshare = None
    elif unshare:
        probe = subprocess.run([unshare, "-rm", "sh", "-c", f"mkdir -p {tmp_path}/p && mount -t tmpfs tmpfs {tmp_path}/p"],
                               capture_output=True)
        if probe.returncode == 0:
            cmd = [unshare, "-rm", PY, "-c", SANDBOX, str(mnt), f"ns-{kind}"]
        else:
            unshare = None
    if not unshare and kind != "readonly-file":
        pytest.skip("needs `unshare -rm` (user and mount namespaces) to make a real full or read-only disk")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["setup"]["code"] == 0, report["setup"]
    return report


def assert_clear_refusal(result, words):
    assert result["code"] != 0, result
    assert "Traceback" not in result["stderr"] + result["stdout"]
    errors = [line for line in result["stderr"].splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and any(w in errors[0] for w in words), result["stderr"]
    assert "unexpected" not in errors[0], errors[0]


def assert_nothing_lost(before, later):
    assert later["integrity"] == "ok"
    for table, old_rows in before.items():
        if table == "integrity":
            continue
        new_rows = later[table]
        assert new_rows[: len(old_rows)] == old_rows, f"{table}: stored rows changed"


@pytest.mark.slow
def test_full_disk_gives_a_clear_error_and_loses_nothing(tmp_path):
    report = _sandbox(tmp_path, "full")
    assert report["open_store_write"].startswith("StoreError") and "full" in report["open_store_write"], report["open_store_write"]
    assert_clear_refusal(report["cli_demo"], ["full"])
    assert_clear_refusal(report["cli_answer"], ["full"])
    assert_clear_refusal(report["cli_backup"], ["full"])
    assert report["leftovers"] == []  # no half-written backup left on the disk
    assert_nothing_lost(report["before"], report["during"])
    assert report["during"]["administrations"] == report["before"]["administrations"]
    assert report["after_space"]["code"] == 0, report["after_space"]  # and it works again once space is freed
    assert_nothing_lost(report["before"], report["after"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["readonly", "readonly-file"])
def test_read_only_database_gives_a_clear_error_and_loses_nothing(tmp_path, kind):
    """A read-only file system (remounted ro) and a read-only database file (mode 0444)."""
    report = _sandbox(tmp_path, kind)
    assert_clear_refusal(report["cli_demo"], ["read-only"])
    assert_clear_refusal(report["cli_answer"], ["read-only"])
    # The doctor still reads a read-only record and finds it sound (a WAL file without its -shm is read
    # as immutable when no unmerged WAL content exists).
    assert report["cli_doctor"]["code"] == 0, report["cli_doctor"]
    assert "integrity_check: ok" in report["cli_doctor"]["stdout"]
    assert report["during"] == report["before"]
    assert report["after"] == report["before"]


# -- PostgreSQL: the connection lost mid-command ------------------------------------------------------------


def _terminate_other_backends(location):
    """Cut every other connection to the record's database (as a server restart or a network fault would)."""
    with Raw(location) as raw:
        database = raw.execute("SELECT current_database()").fetchone()[0]
        return raw.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = ? AND pid <> pg_backend_pid()) t", (database,)).fetchone()[0]


@pytest.mark.slow
def test_a_lost_server_connection_mid_administration_is_one_line_and_keeps_every_answer(pg_url):
    """The server ends the session between two answers (pg_terminate_backend from another connection): the
    next answer cannot be stored; `ipt administer` says so in one line, without a traceback, and exits
    non-zero; the answers already given are stored, nothing after them, and a resume completes the form."""
    _prepared_client(pg_url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([PY, "-m", "ipt_measures", "administer", "c1", "phq9", "--db", pg_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    try:
        for k in range(1, 4):
            _read_until(proc.stdout, f"Item {k} of", deadline)
            proc.stdin.write(f"{PHQ9_ANSWERS[k - 1]}\n")
            proc.stdin.flush()
        _read_until(proc.stdout, "Item 4 of", deadline)
        assert _terminate_other_backends(pg_url) == 1
        proc.stdin.write(f"{PHQ9_ANSWERS[3]}\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode not in (0, None), out + err
    assert "Traceback" not in err + out, err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1], err  # the last word, and one line
    assert "lost the connection" in errors[0] and "unexpected" not in errors[0], errors[0]
    assert dict(rows(pg_url, "SELECT item_id, value FROM responses")) == {str(k): PHQ9_ANSWERS[k - 1] for k in (1, 2, 3)}
    assert rows(pg_url, "SELECT status FROM administrations") == [("in-progress",)]
    assert rows(pg_url, "SELECT count(*) FROM scores") == [(0,)]
    rest = "".join(f"{v}\n" for v in PHQ9_ANSWERS[3:])
    done = subprocess.run([PY, "-m", "ipt_measures", "administer", "c1", "--db", pg_url], input=rest,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(pg_url, "SELECT a.status, s.total FROM administrations a JOIN scores s ON s.administration_id = a.id") \
        == [("complete", 12)]


@pytest.mark.slow
def test_a_lost_server_connection_inside_the_completing_transaction_leaves_nothing_half_written(pg_url):
    """Completion is one transaction (status, score, audit, alerts). Hold the audit table so the completion
    waits inside that transaction with its status and score already written, then end its session: the
    server rolls all of it back. One line, no traceback; the form is in progress with every answer and no
    score; running `ipt administer` again completes and scores it once."""
    _prepared_client(pg_url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([PY, "-m", "ipt_measures", "administer", "c1", "phq9", "--db", pg_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    holder = Raw(pg_url)
    try:
        for k in range(1, 10):
            _read_until(proc.stdout, f"Item {k} of", deadline)
            proc.stdin.write(f"{PHQ9_ANSWERS[k - 1]}\n")
            proc.stdin.flush()
        _read_until(proc.stdout, "Item 10 of", deadline)
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE audit IN EXCLUSIVE MODE")  # others may read it, none may write it
        proc.stdin.write(f"{PHQ9_ANSWERS[9]}\n")
        proc.stdin.flush()
        waiting = []
        while not waiting and time.monotonic() < deadline:
            waiting = holder.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchall()
            time.sleep(0.05)
        assert len(waiting) == 1, "the completion never reached the audit insert"
        assert peek(pg_url, "SELECT count(*) FROM responses") == [(10,)]  # the last answer committed before it
        holder.execute("SELECT pg_terminate_backend(?)", (waiting[0][0],))
        holder.execute("ROLLBACK")
        out, err = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode not in (0, None), out + err
    assert "Traceback" not in err + out, err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "lost the connection" in errors[0], err
    assert rows(pg_url, "SELECT status, finished_at FROM administrations") == [("in-progress", None)]
    assert rows(pg_url, "SELECT count(*) FROM scores") == [(0,)]
    assert rows(pg_url, "SELECT count(*) FROM audit WHERE action = 'administration completed'") == [(0,)]
    done = subprocess.run([PY, "-m", "ipt_measures", "administer", "c1", "--db", pg_url], input="",
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(pg_url, "SELECT a.status, s.total FROM administrations a JOIN scores s ON s.administration_id = a.id") \
        == [("complete", 12)]
