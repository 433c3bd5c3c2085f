"""The stored score always matches the stored answers (issue 10 part 3): the three races, with real processes.

Each test keeps worker processes running (each a real `python` with its own connection to one database),
and for every trial sends them their commands at the same moment; then it checks the record in the
database. The workers use only the record services (`record.resume`, `engine.answer`, `record.complete`,
`record.amend_response`), so the same test runs against an older release to show the race there.

PHQ-9 total = sum of items 1-9 (Kroenke, Spitzer & Williams 2001); item 10 is unscored.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from ipt_measures import record
from ipt_measures.plugins import get_registry
from ipt_measures.store import open_store

from conftest import Raw, peek

WORKER = textwrap.dedent("""
    import json, sys
    from ipt_measures import record
    from ipt_measures.plugins import get_registry
    from ipt_measures.store import open_store

    store = open_store(sys.argv[1])
    get_registry().instrument("phq9")  # plugins loaded and the instrument validated before the first trial
    engines = {}
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "answer":  # resume, go (back) to item 9 and answer it, as a terminal does
                engines[cmd["admin"]] = engine = record.resume(store, cmd["admin"])
                while engine.current is None or engine.current.id != "9":
                    engine.back()
                engine.answer(cmd["value"])
            elif cmd["op"] == "complete":  # then the terminal completes what it has
                record.complete(store, engines.pop(cmd["admin"]))
            else:
                record.amend_response(store, "c1", cmd["item"], cmd["value"], "race test",
                                      administration_id=cmd["admin"])
            print("ok", flush=True)
        except Exception as exc:  # the loser of a race is refused: that is the point
            print(f"refused: {type(exc).__name__}: {exc}".replace("\\n", " "), flush=True)
""")


class Workers:
    """Worker processes on one database, each given one command per trial, all at once."""

    def __init__(self, db, n):
        self.procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for _ in range(n)]
        for p in self.procs:
            line = p.stdout.readline()
            assert line.strip() == "ready", p.stderr.read()

    def run(self, commands):
        """Each worker its command, all sent before any answer is read: they run at the same time."""
        for p, cmd in zip(self.procs, commands):
            p.stdin.write(json.dumps(cmd) + "\n")
        for p in self.procs:
            p.stdin.flush()
        return [p.stdout.readline().strip() for p in self.procs]

    def one(self, n, command):
        """Worker ``n`` runs ``command`` and is done before anything else happens."""
        p = self.procs[n]
        p.stdin.write(json.dumps(command) + "\n")
        p.stdin.flush()
        return p.stdout.readline().strip()

    def close(self):
        for p in self.procs:
            p.stdin.close()
            p.wait(timeout=30)


@pytest.fixture
def db(engine):
    """One record on each engine. On PostgreSQL the races cannot happen for the same reasons as on SQLite:
    every write transaction queues on the record's write lock (pg_advisory_xact_lock), and the database's
    own trigger and unique index refuse a second completion (shown directly below)."""
    path = engine
    with open_store(path) as store:
        record.add_client(store, "c1")
        record.start_course(store, "c1", ["grief"], 16, "2026-01-05")
        record.start_session(store, "c1", "2026-01-05")
    return path


def in_progress_phq9(store, answers):
    """An interrupted PHQ-9: items 1-8 and the (unscored) item 10 answered, item 9 not yet."""
    engine = record.begin(store, "c1", "phq9")
    for item, value in answers.items():
        store.record_response(engine.id, item, value)
    return engine.id


def contradictions(db, admin_id):
    """What is wrong with one administration's stored score: [] when it has exactly one score, made once,
    that matches its stored answers."""
    answers = dict(peek(db, "SELECT item_id, value FROM responses WHERE administration_id = ?", (admin_id,)))
    scores = peek(db, "SELECT current, data FROM scores WHERE administration_id = ?", (admin_id,))
    completions = peek(db, "SELECT count(*) FROM audit WHERE action = 'administration completed'"
                           " AND entity_id = ?", (str(admin_id),))[0][0]
    problems = []
    current = [json.loads(data) for is_current, data in scores if is_current]
    if len(current) != 1:
        problems.append(f"{len(current)} current scores")
    if completions > 1:
        problems.append(f"completed {completions} times")
    expected = get_registry().score("phq9", answers)
    if current and current[-1]["total"]["value"] != expected.total.value:
        problems.append(f"stored total {current[-1]['total']['value']}, answers {answers} score {expected.total.value}")
    if current and [f["item"] for f in current[-1]["flags"]] != [f.item for f in expected.flags]:
        problems.append("critical items differ from the answers'")
    return problems


TRIALS = 25


def test_a_completion_scores_the_answers_stored_not_those_it_remembers(db):
    """A finishes a PHQ-9 with item 9 = 0 while B, resuming the same administration, answers item 9 = 3."""
    workers = Workers(db, 2)
    bad = []
    try:
        with open_store(db) as store:
            for _ in range(TRIALS):
                admin = in_progress_phq9(store, {**{str(i): 0 for i in range(1, 9)}, "10": 0})
                # A answers item 9 = 0; then B, resumed on the same administration, goes back and answers
                # item 9 = 3; then both press on to completion at once.
                assert workers.one(0, {"op": "answer", "admin": admin, "value": 0}) == "ok"
                assert workers.one(1, {"op": "answer", "admin": admin, "value": 3}) == "ok"
                outcomes = workers.run([{"op": "complete", "admin": admin}] * 2)
                assert sorted(outcomes)[0] == "ok", outcomes
                bad += contradictions(db, admin)
    finally:
        workers.close()
    assert bad == [], f"{len(bad)} contradiction(s) in {TRIALS} trials: {bad[:3]}"


def test_two_terminals_sending_the_final_answer_complete_it_once(db):
    workers = Workers(db, 2)
    bad, outcomes = [], []
    try:
        with open_store(db) as store:
            for _ in range(2 * TRIALS):  # the rarest of the three (about 1 trial in 10 on the old code)
                admin = in_progress_phq9(store, {**{str(i): 1 for i in range(1, 9)}, "10": 0})
                workers.run([{"op": "answer", "admin": admin, "value": 1}] * 2)  # the final answer, twice
                outcomes.append(workers.run([{"op": "complete", "admin": admin}] * 2))
                bad += contradictions(db, admin)
    finally:
        workers.close()
    assert bad == [], f"{len(bad)} contradiction(s) in {2 * TRIALS} trials: {bad[:3]}"
    # Exactly one of the two completes; the other is told, in one line, why not.
    assert all(sorted(o)[0] == "ok" and sorted(o)[1].startswith("refused:") for o in outcomes), outcomes


def test_concurrent_amendments_of_different_items_leave_a_score_that_matches(db):
    workers = Workers(db, 4)
    bad = []
    try:
        with open_store(db) as store:
            for _ in range(TRIALS):
                (result,) = record.enter_answers(store, "c1", [record.Entry("phq9", [0] * 9)])
                admin = result.administration["id"]
                outcomes = workers.run([{"op": "amend", "admin": admin, "item": str(i), "value": 3} for i in (1, 2, 3, 4)])
                assert outcomes == ["ok"] * 4, outcomes
                bad += contradictions(db, admin)
    finally:
        workers.close()
    assert bad == [], f"{len(bad)} contradiction(s) in {TRIALS} trials: {bad[:3]}"


def test_the_database_itself_refuses_a_second_completion_and_a_second_current_score(db):
    """A constraint, not only a check: even SQL that bypasses the store cannot complete twice (on
    PostgreSQL even as the superuser, which row-level security would not stop)."""
    with open_store(db) as store:
        (result,) = record.enter_answers(store, "c1", [record.Entry("phq9", [1] * 9)])
    admin = result.administration["id"]
    with Raw(db) as raw:
        with pytest.raises(raw.Error, match="already finished"):  # reopened, to be completed again
            raw.execute("UPDATE administrations SET status = 'in-progress', finished_at = NULL WHERE id = ?", (admin,))
        with pytest.raises(raw.Error, match="already finished"):
            raw.execute("UPDATE administrations SET status = 'abandoned' WHERE id = ?", (admin,))
        with pytest.raises(raw.Error, match="(?i)unique"):
            raw.execute("INSERT INTO scores (administration_id, current, total, scorer, data, computed_at)"
                        " VALUES (?, 1, 0, 'x', '{}', 'x')", (admin,))
        assert raw.execute("SELECT count(*) FROM scores WHERE administration_id = ?", (admin,)).fetchone()[0] == 1


def test_a_finished_administration_cannot_be_completed_again_even_unchanged(db):
    """Completing a finished administration again (status unchanged, a new finish time) is refused by the
    database itself on both engines: any UPDATE OF status once finished (trigger administrations_finish_once)."""
    with open_store(db) as store:
        (result,) = record.enter_answers(store, "c1", [record.Entry("phq9", [1] * 9)])
    admin = result.administration["id"]
    with Raw(db) as raw:
        with pytest.raises(raw.Error, match="already finished"):
            raw.execute("UPDATE administrations SET status = 'complete', finished_at = 'x' WHERE id = ?", (admin,))


def test_doctor_reports_a_score_that_disagrees_with_its_answers(tmp_path, invoke):
    # SQLite only: `ipt doctor` on a server record is its own work (issue 12's `ipt db` commands).
    db = tmp_path / "doctor.db"
    with open_store(db) as store:
        record.add_client(store, "c1")
        record.start_course(store, "c1", ["grief"], 16, "2026-01-05")
        record.start_session(store, "c1", "2026-01-05")
        record.enter_answers(store, "c1", [record.Entry("phq9", [1] * 9), record.Entry("gad7", [1] * 7)])
    ok = invoke("doctor", "--db", db, "--json")
    (scores,) = [c for c in json.loads(ok.output) if c["check"] == "scores"]
    assert scores["status"] == "ok" and scores["detail"].startswith("2 stored score(s) match")
    raw = sqlite3.connect(db)  # corrupt one on purpose: the score says 0, the answers say 9
    raw.execute("UPDATE scores SET total = 0, data = json_set(data, '$.total.value', 0) WHERE administration_id = 1")
    raw.commit()
    raw.close()
    bad = invoke("doctor", "--db", db)
    assert bad.exit_code == 1
    assert "1 stored score(s) disagree with their answers: administration 1 (c1, session 1, phq9): stored total 0, " \
           "its answers score 9" in bad.output
