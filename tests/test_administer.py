"""The administration engine: every answer on disk before the next item, back, skip rules, decline, resume.

PHQ-9 facts used (plugins/phq9.toml): 9 scored items plus the optional difficulty item 10, answers 0-3,
up to 2 of the 9 may be missing (Kroenke, Spitzer, Williams & Löwe 2010), item 9 >= 1 is critical
(Kroenke, Spitzer & Williams 2001).
"""

import sqlite3

import pytest

from instrument_factory import instrument as make_instrument
from ipt_measures.administer import Administration, Outcome, interpret, run
from ipt_measures.errors import UsageError
from ipt_measures.plugins import get_registry
from ipt_measures.store import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        s.add_client("c1")
        course = s.start_course("c1", "2026-01-05", 16, ["grief"], None)
        s.add_session(course["id"], 1, "2026-01-05", "initial")
        yield s


@pytest.fixture
def phq9():
    return get_registry().instrument("phq9")


def new(store, instrument):
    admin_id = store.start_administration(1, instrument.id, instrument.version, instrument.respondent)
    return Administration(store, instrument, admin_id)


def test_each_answer_is_committed_before_the_next_item(tmp_path, store, phq9):
    engine = new(store, phq9)
    other = sqlite3.connect(tmp_path / "a.db")  # as another process would see the file
    for n, value in enumerate([2, 1, 3], start=1):
        assert engine.position == (n, 10)
        engine.answer(value)
        assert other.execute("SELECT count(*) FROM responses").fetchone()[0] == n
    assert other.execute("SELECT item_id, value FROM responses ORDER BY item_id").fetchall() == [("1", 2), ("2", 1), ("3", 3)]


def test_a_new_engine_resumes_at_the_first_unanswered_item(store, phq9):
    engine = new(store, phq9)
    for v in (1, 1, 0, 2):
        engine.answer(v)
    again = Administration(store, phq9, engine.id)
    assert again.position == (5, 10) and again.current.id == "5"
    assert again.answers()["4"] == 2 and again.answers()["5"] is None


def test_back_shows_the_saved_answer_and_a_new_one_replaces_it(store, phq9):
    engine = new(store, phq9)
    engine.answer(1)
    engine.answer(2)
    assert engine.back() and engine.current.id == "2"
    assert engine.stored()["value"] == 2
    engine.answer(0)
    assert engine.current.id == "3"
    assert store.responses(engine.id)["2"]["value"] == 0
    engine.index = 0
    assert not engine.back()  # nothing before the first item


def test_skip_follows_the_published_missing_rule(store, phq9):
    engine = new(store, phq9)
    engine.skip()
    engine.skip()  # two of nine may be missing (Kroenke et al. 2010)
    ok, why = engine.can_skip()
    assert not ok and "at most 2" in why
    with pytest.raises(UsageError, match="cannot be skipped"):
        engine.skip()
    engine.decline()  # a client may always decline; it is recorded, and the total will not be scored
    assert store.responses(engine.id)["3"]["status"] == "declined"
    for _ in range(6):
        engine.answer(0)
    assert engine.current.id == "10" and engine.can_skip()[0]  # the optional item can always be skipped
    engine.skip()
    assert engine.finished


def test_no_skipping_where_the_rule_allows_no_missing_answer(store):
    strict = make_instrument(scales=[{
        "id": "total", "name": "Total", "items": ["1", "2", "3", "4"],
        "missing": {"max_missing": 0, "source": "test"},
    }])
    engine = new(store, strict)
    ok, why = engine.can_skip()
    assert not ok and "allows no missing answers" in why


def test_answer_out_of_range_is_refused_and_nothing_stored(store, phq9):
    engine = new(store, phq9)
    with pytest.raises(UsageError, match="0-3"):
        engine.answer(4)
    assert store.responses(engine.id) == {}


def test_critical_item_is_returned_the_moment_it_is_answered(store, phq9):
    engine = new(store, phq9)
    for _ in range(8):
        assert engine.answer(0) == []
    flags = engine.answer(2)
    assert [(f.item, f.value, f.answer, f.kind) for f in flags] == [("9", 2, "More than half the days", "suicidality")]


@pytest.mark.parametrize(
    "typed, kind, value",
    [("2", "answer", 2), (" 0 \n", "answer", 0), ("Several days", "answer", 1), ("b", "back", None),
     ("S", "skip", None), ("d", "decline", None), ("?", "help", None), ("q", "quit", None),
     ("", "invalid", None), ("   ", "invalid", None), ("abc", "invalid", None), ("4", "invalid", None),
     ("-1", "invalid", None), ("1.5", "invalid", None)],
)
def test_interpret_typed_lines(store, phq9, typed, kind, value):
    command = interpret(new(store, phq9), typed)
    assert (command.kind, command.value) == (kind, value)
    if kind == "invalid":
        assert "type 0-3" in command.message


class Scripted:
    """A front end fed from a list of lines; None in the list (or running out) is end of input."""

    def __init__(self, lines):
        self.lines = list(lines)
        self.said, self.flags, self.shown = [], [], []

    def show_item(self, engine):
        self.shown.append(engine.position[0])

    def read(self):
        return self.lines.pop(0) if self.lines else None

    def say(self, message):
        self.said.append(message)

    def critical(self, flag):
        self.flags.append(flag)


def test_run_reasks_on_bad_input_and_keeps_answers_at_end_of_input(store, phq9):
    ui = Scripted(["x", "", "7", "1", "b", "2", "3"])
    outcome = run(new(store, phq9), ui)
    assert outcome == Outcome("eof", [])
    assert len(ui.said) == 3  # letters, empty line, out of range: each re-asked
    assert ui.shown == [1, 2, 1, 2, 3]
    admin_id = store.in_progress("c1")[0]["id"]
    assert {k: r["value"] for k, r in store.responses(admin_id).items()} == {"1": 2, "2": 3}


def test_run_to_the_end_raises_the_critical_item_at_once(store, phq9):
    ui = Scripted(["0"] * 8 + ["1", "s"])
    engine = new(store, phq9)
    outcome = run(engine, ui)
    assert outcome.status == "finished" and engine.finished
    assert [f.item for f in ui.flags] == ["9"] and [f.item for f in outcome.flags] == ["9"]


def test_quit_keeps_what_was_answered(store, phq9):
    engine = new(store, phq9)
    assert run(engine, Scripted(["1", "1", "q"])).status == "quit"
    assert Administration(store, phq9, engine.id).position == (3, 10)
