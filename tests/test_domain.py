"""The IPT vocabulary and rules (domain.py), enforced by the services and the CLI, not the store.

Issue 10 part 6: client ids from a safe alphabet, display names any printable text, implausible dates
refused; issue 12 part 1: the vocabulary written once.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ipt_measures import domain, record
from ipt_measures.errors import InvalidValue, UsageError
from ipt_measures.store import open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "d.db") as s:
        yield s


@pytest.mark.parametrize("good", ["c1", "demo-0001", "C_2.a", "0042", "x" * 64])
def test_client_id_alphabet_accepts(good):
    assert domain.check_client_id(good) == good


@pytest.mark.parametrize("bad, shown", [
    ("demo-0001\u200b", "U+200B ZERO WIDTH SPACE"),          # looks identical to demo-0001
    ("c\u202e100", "U+202E RIGHT-TO-LEFT OVERRIDE"),          # shows as c001 reversed
    ("=HYPERLINK(1)", "'=' at the start"),
    ("+1", "'+' at the start"),
    ("-c1", "'-' at the start"),
    ("@c1", "'@' at the start"),
    ("c 1", "U+0020 SPACE"),
    ("c\t1", "U+0009"),
    ("c\x1b[2J", "U+001B"),
    ("dеmo", "U+0435 CYRILLIC SMALL LETTER IE"),              # a Cyrillic look-alike
    ("", "empty"),
    ("x" * 65, "65 characters"),
])
def test_client_id_alphabet_refuses_with_the_character_named(bad, shown):
    with pytest.raises(InvalidValue, match="client id") as info:
        domain.check_client_id(bad)
    assert shown in str(info.value)
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value) and "\u202e" not in str(info.value)


def test_client_id_is_nfc_normalised():
    # KELVIN SIGN is canonically equivalent to K: the same id, not a second client that looks the same.
    assert domain.check_client_id("\u212a001") == "K001"


def test_two_clients_that_look_identical_cannot_both_be_added(store):
    record.add_client(store, "demo-0001")
    with pytest.raises(UsageError, match="ZERO WIDTH SPACE"):
        record.add_client(store, "demo-0001\u200b")
    with pytest.raises(UsageError, match="RIGHT-TO-LEFT OVERRIDE"):
        record.add_client(store, "c\u202e100")
    assert [c["id"] for c in store.list_clients()] == ["demo-0001"]


def test_cli_refuses_a_bad_client_id_in_one_line(invoke):
    result = invoke("clients", "add", "demo-0001\u200b")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "U+200B ZERO WIDTH SPACE" in result.output
    assert "Traceback" not in result.output


def test_display_names_hold_any_printable_text_but_no_controls(store):
    for i, name in enumerate(["Zoë O'Brien-Łukasz", "محمد علي", "\u0645\u06cc\u200c\u0631\u0648\u062f", "李 小龍"]):
        assert record.add_client(store, f"n{i}", name)["display_name"] == name  # (ZWNJ: a Persian name)
    for bad in ["A\x1b[31mB", "A\u202eB", "A\nB", "A\rB"]:
        with pytest.raises(UsageError, match="display name cannot contain"):
            record.add_client(store, "n9", bad)


def test_ids_stored_by_an_older_version_are_still_read(invoke, isolated_data):
    path = isolated_data / "ipt.db"
    with open_store(path) as s:
        s.add_client("old id\u200b")  # the store persists; only the services check new ids
    listed = invoke("clients", "list", "--json")
    assert listed.exit_code == 0 and [r["id"] for r in json.loads(listed.output)] == ["old id\u200b"]
    shown = invoke("clients", "show", "old id\u200b")
    assert shown.exit_code == 0


@pytest.mark.parametrize("start, why", [("1899-12-31", "before 1900-01-01"), ("0001-01-03", "before 1900-01-01"),
                                         ("9999-12-30", "in the future"), ("2026-02-30", "not a date")])
def test_implausible_course_start_is_refused(invoke, start, why):
    invoke("clients", "add", "c1")
    result = invoke("course", "start", "c1", "--problem-area", "grief", "--start", start)
    assert result.exit_code == 2 and why in result.output and result.output.count("\n") == 1


def test_session_before_the_course_start_is_refused(invoke):
    invoke("clients", "add", "c1")
    invoke("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05")
    result = invoke("session", "start", "c1", "--date", "2026-01-04")
    assert result.exit_code == 2 and "before the course start (2026-01-05)" in result.output
    assert invoke("session", "start", "c1", "--date", "2026-01-05").exit_code == 0
    amended = invoke("session", "amend", "c1", "1", "--date", "1999-01-01", "--reason", "typo")
    assert amended.exit_code == 2 and "before the course start" in amended.output


def test_course_end_before_its_start_is_refused(invoke):
    invoke("clients", "add", "c1")
    invoke("course", "start", "c1", "--problem-area", "grief", "--start", "2026-01-05")
    result = invoke("course", "end", "c1", "--reason", "completed", "--date", "2025-12-31")
    assert result.exit_code == 2 and "before the course start" in result.output


def test_course_rules_are_the_services(store):
    record.add_client(store, "c1")
    with pytest.raises(UsageError, match="no course type is planned for 20 sessions"):
        record.start_course(store, "c1", ["grief"], 20, "2026-01-05")
    with pytest.raises(UsageError, match="unknown problem area 'sadness'"):
        record.start_course(store, "c1", ["sadness"], 12, "2026-01-05")
    with pytest.raises(UsageError, match="no problem area"):
        record.start_course(store, "c1", [], 12, "2026-01-05")
    record.start_course(store, "c1", ["grief", "grief"], 12, "2026-01-05")
    with pytest.raises(UsageError, match="phase 'late'"):
        record.start_session(store, "c1", "2026-01-05", phase="late")


def test_shifting_an_implausible_stored_date_is_a_clear_error(isolated_data, tmp_path, invoke, zzcheck):
    # A record written before these rules may hold a date near year 1: --shift-dates used to fail with
    # "unexpected OverflowError"; now one line says which date.
    path = isolated_data / "ipt.db"
    with open_store(path) as s:
        s.add_client("c1")
        course = s.start_course("c1", "0001-01-01", 12, ["grief"], None)
        session = s.add_session(course["id"], 1, "0001-01-01", "initial")
        from ipt_measures.plugins import get_registry
        engine = record.begin(s, "c1", "zzcheck", registry=get_registry())
        for v in (1, 1, 1, 1):
            engine.answer(v)
        record.complete(s, engine, registry=get_registry())
        s.end_course(course["id"], "9999-12-31", "completed")  # so a shift either way overflows
        assert session
    key = tmp_path / "k.key"
    result = invoke("export", "--all", "--deidentify", "--key-file", key, "--shift-dates", "-o", tmp_path / "o.csv")
    assert result.exit_code != 0
    assert re.search("0001-01-01|9999-12-31", result.output) and "not a plausible date" in result.output
    assert "OverflowError" not in result.output and result.output.splitlines()[-1].startswith("Error: cannot shift")
    assert not (tmp_path / "o.csv").exists()


def test_the_vocabulary_is_written_once():
    # issue 12: PROBLEM_AREAS and PHASES were copied into store/sqlite.py, cli/record.py, demo.py, models.py.
    copies = []
    for path in (ROOT / "ipt_measures").rglob("*.py"):
        if path.name == "domain.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ("role-transitions", "interpersonal-deficits"):
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("PHASES", "PROBLEM_AREAS")
                                                    for t in node.targets):
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert copies == []


def test_domain_is_import_light():
    code = "import sys, ipt_measures.domain; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('pydantic', 'click', 'sqlite3', 'tabulate', 'platformdirs')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"



def test_control_characters_in_stored_text_are_escaped_on_the_terminal(invoke, isolated_data):
    # A record from an older version (or an import) holding an id and a name that would clear the screen,
    # rewrite a line or reverse the text: every printer shows them escaped (cli/output.terminal_safe).
    with open_store(isolated_data / "ipt.db") as s:
        s.add_client("evil\x1b[2J\u202e", "Mallory\r!!! CRITICAL: nobody\x07")
    for command in (["clients", "list"], ["clients", "show", "evil\x1b[2J\u202e"], ["clients", "list", "--json"]):
        result = invoke(*command)
        assert result.exit_code == 0, result.output
        for raw in ("\x1b[2J", "\u202e", "\r", "\x07"):
            assert raw not in result.output, (command, result.output)
        assert "\\u202e" in result.output  # (click itself drops ESC sequences when not on a terminal)
    listed = json.loads(invoke("clients", "list", "--json").output)  # the escape is also valid JSON
    assert listed[0]["id"] == "evil\x1b[2J\u202e" and listed[0]["display_name"].startswith("Mallory\r")
    shown = invoke("clients", "show", "nobody\x1b]0;title\x07")  # and in an error message
    assert "\x1b" not in shown.output and "\x07" not in shown.output


def test_an_export_to_a_pipe_keeps_the_stored_text(invoke, isolated_data, zzcheck):
    # Data asked for on standard output is written as stored when it goes to a file or pipe.
    with open_store(isolated_data / "ipt.db") as s:
        s.add_client("c1", "Zoë\u200b")
    result = invoke("export", "--all", "--format", "json")
    assert result.exit_code == 0
    terminal_safe = __import__("ipt_measures.cli.output", fromlist=["terminal_safe"]).terminal_safe
    assert terminal_safe("a\x1bb\u202ec\nd") == "a\\u001bb\\u202ec\nd"
    assert terminal_safe("\x1b[31m\x1b[1m!!! CRITICAL\x1b[0m") == "\x1b[31m\x1b[1m!!! CRITICAL\x1b[0m"  # our colours
