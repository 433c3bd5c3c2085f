"""The synthetic caseload: deterministic by seed, realistic in shape, scored by the real scorers, safe to re-run."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import pytest

import ipt_measures
from ipt_measures import demo
from ipt_measures.errors import UsageError
from ipt_measures.store import open_store

from conftest import peek

AS_OF = date(2026, 11, 2)


def records(n, seed=1, **kw):
    return list(demo.generate(n, seed, as_of=AS_OF, **kw))


def test_same_seed_same_caseload_and_clients_do_not_depend_on_the_count():
    assert records(6, seed=3) == records(6, seed=3)
    assert records(6, seed=3) != records(6, seed=4)
    first_three = [r for r in records(6, seed=3) if r["client_id"] <= "demo-0003"]
    assert first_three == records(3, seed=3)


def test_ids_are_synthetic_and_names_only_when_asked():
    recs = records(12)
    assert sorted({r["client_id"] for r in recs}) == [f"demo-{i:04d}" for i in range(1, 13)]
    assert {r["display_name"] for r in recs} == {None}
    named = records(3, names=True)
    assert all(r["display_name"] and r["display_name"].endswith(".") for r in named)


def test_courses_are_12_to_16_weekly_sessions_in_ipt_phases():
    recs = records(60)
    by_client: dict[str, set] = {}
    for r in recs:
        assert 12 <= r["course"]["planned_sessions"] <= 16
        by_client.setdefault(r["client_id"], set()).add((r["session"]["number"], r["session"]["date"], r["session"]["phase"]))
    for sessions in by_client.values():
        numbers = sorted(n for n, _, _ in sessions)
        assert numbers == list(range(1, len(numbers) + 1))  # consecutive, from session 1
        phases = dict((n, p) for n, _, p in sessions)
        assert phases[1] == "initial"
        assert all(phases[n] == "initial" for n in numbers if n <= 3)
    # Weekly: session 2 is 7 days after session 1.
    one = sorted({(r["session"]["number"], r["session"]["date"]) for r in recs if r["client_id"] == "demo-0001"})
    assert date.fromisoformat(one[1][1]) - date.fromisoformat(one[0][1]) == timedelta(days=7)


def test_trajectory_mix_matches_the_declared_shares():
    # Declared: 65% improve, 25% flat, 10% deteriorate. With 1,000 clients the binomial standard error is
    # at most 1.6 points, so +-5 points is more than 3 SE: a wrong mix fails, chance does not.
    kinds = Counter(demo.plan_client(i, 11).trajectory for i in range(1, 1001))
    assert abs(kinds["improve"] / 1000 - 0.65) < 0.05
    assert abs(kinds["flat"] / 1000 - 0.25) < 0.05
    assert abs(kinds["deteriorate"] / 1000 - 0.10) < 0.05


def test_scores_follow_the_trajectories():
    # Completed courses only (16 sessions each): PHQ-9 at session 1 vs the last session.
    recs = records(150, seed=5, sessions=16, instruments=["phq9"])
    first, last = {}, {}
    for r in recs:
        value = r["score"]["total"]["value"]
        if value is None:
            continue
        if r["session"]["number"] == 1:
            first[r["client_id"]] = value
        if r["session"]["number"] == 16:
            last[r["client_id"]] = value
    kinds = {f"demo-{i:04d}": demo.plan_client(i, 5, sessions=16).trajectory for i in range(1, 151)}
    both = [c for c in first if c in last]
    improved = [c for c in both if kinds[c] == "improve"]
    worse = [c for c in both if kinds[c] == "deteriorate"]
    assert improved and worse
    # Improvers lose 40-85% of their starting severity; a PHQ-9 drop of 5 points is the reliable change
    # threshold used by the IAPT/NHS Talking Therapies manual, so most improvers should show it.
    assert sum(first[c] - last[c] >= 5 for c in improved) / len(improved) > 0.7
    assert all(last[c] >= first[c] - 3 for c in worse)


def test_scores_are_the_real_scorers_results():
    for r in records(8, seed=9):
        answers = {item: value for item, value, _ in r["responses"]}
        expected = ipt_measures.score(r["administration"]["instrument_id"], answers).model_dump(mode="json")
        assert r["score"] == expected


def test_critical_items_and_missing_answers_occur_but_are_occasional():
    recs = records(300, seed=2)
    phq = [r for r in recs if r["administration"]["instrument_id"] == "phq9"]
    item9 = [dict((i, v) for i, v, _ in r["responses"]).get("9") for r in phq]
    positive = sum(1 for v in item9 if v and v >= 1)
    assert 0 < positive < 0.15 * len(phq)
    assert all(r["score"]["flags"] for r, v in zip(phq, item9) if v and v >= 1)
    within = [r for r in recs if r["score"]["total"]["missing"] and r["score"]["total"]["value"] is not None]
    beyond = [r for r in recs if r["score"]["total"]["value"] is None]
    assert within and beyond
    assert len(beyond) < 0.02 * len(recs)
    assert all(s == "skipped" for r in beyond for _, v, s in r["responses"] if v is None)


def test_populate_stores_everything_and_a_rerun_adds_nothing(engine):
    with open_store(engine) as store:
        result = demo.populate(store, 20, 4, as_of=AS_OF)
        assert result["clients"] == 20 and result["stored"] == result["administrations"] > 20 * 12
        again = demo.populate(store, 20, 4, as_of=AS_OF)
        assert (again["stored"], again["skipped"]) == (0, result["stored"])
        n = store._query("SELECT count(*) FROM administrations")[0][0]
        assert n == result["stored"]
        # every administration has its answers and exactly one current score
        assert store._query("SELECT count(*) FROM administrations a WHERE NOT EXISTS"
                           " (SELECT 1 FROM responses r WHERE r.administration_id = a.id)")[0][0] == 0
        assert store._query("SELECT count(*) FROM scores WHERE current = 1")[0][0] == n


def test_populate_refuses_a_database_with_real_clients(engine):
    with open_store(engine) as store:
        store.add_client("c-17")
        with pytest.raises(UsageError, match="real clients"):
            demo.populate(store, 3, as_of=AS_OF)
        assert store._query("SELECT count(*) FROM administrations")[0][0] == 0


def _content(path):
    """Every stored administration with its score and answers, by import key, on either engine."""
    rows = peek(
        path,
        "SELECT c.id, co.start_date, co.end_date, s.number, s.date, a.instrument_id, a.import_key, sc.total, sc.band,"
        " a.id FROM clients c JOIN courses co ON co.client_id = c.id"
        " JOIN sessions s ON s.course_id = co.id JOIN administrations a ON a.session_id = s.id"
        " JOIN scores sc ON sc.administration_id = a.id ORDER BY a.import_key"
    )
    answers: dict = {}
    for admin, item, value, status in peek(path, "SELECT administration_id, item_id, value, status FROM responses"):
        answers.setdefault(admin, []).append(f"{item}={status if value is None else value}")
    return [(*row[:-1], ",".join(sorted(answers.get(row[-1], [])))) for row in rows]


def test_cli_demo_is_deterministic_and_says_what_it_made(invoke, new_record):
    args = ["demo", "--clients", 6, "--seed", 8, "--as-of", "2026-11-02"]
    a, b = new_record("a"), new_record("b")
    first = invoke(*args, "--db", a)
    assert first.exit_code == 0, first.output
    assert "6 demo clients (demo-0001 to demo-0006)" in first.output
    assert invoke(*args, "--db", b).exit_code == 0
    assert _content(a) == _content(b) != []
    again = invoke(*args, "--db", a, "--json")
    data = json.loads(again.output)
    assert data["stored"] == 0 and data["skipped"] == len(_content(a))


def test_cli_demo_rejects_bad_arguments_in_one_line(invoke, tmp_path):
    for args in (["--clients", "0"], ["--clients", "10000000"], ["--as-of", "yesterday"], ["--seed", "-1"]):
        result = invoke("demo", "--db", tmp_path / "x.db", *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.db").exists()


def test_the_commands_in_the_readme_demo_section_run(invoke, tmp_path, monkeypatch, engine):
    """The README demo section's first example block, command by command, on an empty machine; on
    PostgreSQL the same commands on the record IPT_DB names, where `ipt backup` (a SQLite file's copy) says
    in one line to use pg_dump."""
    import shlex

    from conftest import on_server, on_the_engine, readme_section

    text = readme_section("A synthetic caseload")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line in block.splitlines():
        for command in line.split("#", 1)[0].split("&&"):
            words = shlex.split(command)
            if not words:
                continue
            assert words[0] == "ipt", command
            result = invoke(*on_the_engine(words[1:], engine))
            if on_server(engine) and words[1] == "backup":
                assert result.exit_code == 2 and "pg_dump" in result.output, (command, result.output)
                assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
            else:
                assert result.exit_code == 0, (command, result.output)
            ran += 1
    assert ran >= 5
    assert (tmp_path / "demo.csv").stat().st_size > 0
    assert (tmp_path / "demo-copy.db").exists() != on_server(engine)


def test_the_demo_caseload_shows_what_a_caseload_is_for(engine):
    """`ipt demo` used to leave 3 unflagged active courses of 25. Its first screen now shows an open critical
    item at the latest session (on top), a reliable deterioration, a measurement gap and a course past its
    midpoint with no reliable change, among a working list of active courses; every score a real score."""
    from ipt_measures.review import caseload

    with open_store(engine) as store:
        demo.populate(store, 25, 1, as_of=AS_OF)
        rows = caseload(store)
        # Earlier sessions' critical items were dealt with at the time (acknowledged, kept); the latest stay open.
        every = store.alerts("demo-0001", include_acknowledged=True)
        latest = store.sessions(store.active_course("demo-0001")["id"])[-1]["number"]
        assert [a["session_number"] for a in every if a["status"] == "open" and a["kind"] != "mid-course-review"] \
            == [latest]
        assert all(a["action"] == demo.DEMO_ACTION for a in every if a["status"] == "acknowledged")
        # Issue 14: a demo client at session 10 of 16, no better than at baseline, carried no flag at all.
        [review] = [a for a in every if a["kind"] == "mid-course-review"]
        assert (review["status"], review["session_number"]) == ("open", 10)
    assert 8 <= len(rows) <= 20  # a clinician's working list that fits one terminal screen
    assert rows[0].open_critical  # most urgent first: an open critical alert
    by_client = {r.client_id: r for r in rows}
    assert by_client["demo-0001"].open_critical
    assert "PHQ-9" in by_client["demo-0002"].deteriorated and by_client["demo-0002"].category == "reliably deteriorated"
    assert by_client["demo-0003"].sessions_unmeasured == demo.GAP_SESSIONS
    off_track = by_client["demo-0004"]
    assert off_track.current_session > off_track.planned_sessions / 2
    assert off_track.category == "no reliable change" and not off_track.flags


def test_the_showcase_is_the_same_for_any_seed_and_absent_from_fixed_shapes():
    for seed in (1, 2, 99):
        roles = [demo.plan_client(i, seed, as_of=AS_OF).role for i in range(1, 6)]
        assert roles == ["critical", "deterioration", "gap", "off-track", None]
    assert demo.plan_client(1, 1, as_of=AS_OF, sessions=16).role is None  # benchmarks' x16x4 shape


def test_the_gap_sessions_are_held_once_however_often_the_demo_runs(engine):
    with open_store(engine) as store:
        demo.populate(store, 4, 1, as_of=AS_OF)
        demo.populate(store, 4, 1, as_of=AS_OF)
        course = store.active_course("demo-0003")
        numbers = [s["number"] for s in store.sessions(course["id"])]
        assert numbers == list(range(1, len(numbers) + 1))
        measured = {a["session_number"] for a in store.administrations(course["id"])}
        assert max(numbers) - max(measured) == demo.GAP_SESSIONS
