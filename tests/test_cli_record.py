"""The in-session command line, run for real with CliRunner and typed input.

PHQ-9 totals are summed by hand (Kroenke, Spitzer & Williams 2001: items 1-9, 0-3 each; 10-14 moderate);
item 9 >= 1 is the critical item (ibid.). GAD-7: items 1-7 summed, 5-9 mild (Spitzer et al. 2006).
"""

import json
import re

import pytest


@pytest.fixture
def c1(invoke, engine):
    assert invoke("clients", "add", "c1").exit_code == 0
    assert invoke("course", "start", "c1", "--problem-area", "grief", "--sessions", "16", "--start", "2026-01-05").exit_code == 0
    result = invoke("session", "start", "c1", "--date", "2026-01-05")
    assert result.exit_code == 0 and "Session 1 of c1 on 2026-01-05 (initial phase)" in result.output
    return invoke


def lines(*values):
    return "".join(f"{v}\n" for v in values)


def test_clients_add_list_show(invoke, engine):
    assert invoke("clients", "add", "c1", "--name", "A.B.", "--birth-year", "1980").exit_code == 0
    invoke("clients", "add", "c2")
    dup = invoke("clients", "add", "c1")
    assert dup.exit_code == 2 and dup.output.strip() == "Error: client 'c1' already exists"
    rows = json.loads(invoke("clients", "list", "--json").stdout)
    assert [(r["id"], r["birth_year"]) for r in rows] == [("c1", 1980), ("c2", None)]
    shown = invoke("clients", "show", "c2")
    assert "No course yet" in shown.output
    missing = invoke("clients", "show", "nobody")
    assert missing.exit_code == 1 and "no client 'nobody'" in missing.output and "Traceback" not in missing.output


def test_interactive_administration_with_bad_input_and_a_critical_item(c1):
    typed = lines("abc", "", "7", "-1", "2", "1", "b", "3", "1", "1", "?", "0", "1", "0", "1", "2", "1")
    result = c1("administer", "c1", "phq9", input=typed)
    out = result.stdout
    assert result.exit_code == 0, result.output
    assert "Recall period: the last 2 weeks." in out and "Item 3 of 10" in out
    assert "'abc' is not an answer" in out and "No answer given" in out and "7 is out of range" in out
    assert "-1 is out of range" in out and "Type the number of an answer" in out  # the help
    # Item 9 answered 2: the warning comes before item 10 is shown, and again at the end, and on stderr.
    warning = "!!! CRITICAL: Thoughts of being better off dead or of self-harm endorsed"
    assert out.index(warning) < out.index("Item 10 of 10")
    assert out.count(warning) == 2 and "(item 9: More than half the days)" in out
    assert warning in result.stderr
    # 2 + 3 (changed from 1 after going back) + 1 + 1 + 0 + 1 + 0 + 1 + 2 = 11: moderate.
    assert "Total: 11, moderate" in out
    assert "This is the first phq9 of this course (the baseline)." in out


def test_end_of_input_saves_and_says_how_to_resume(c1):
    result = c1("administer", "c1", "phq9", input=lines(1, 1, 1))
    assert result.exit_code == 1
    assert "Saved 3 answers; resume with: ipt administer c1" in result.stderr
    resumed = c1("administer", "c1", input=lines(0, 0, 0, 0, 0, 0, 0))
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming at item 4 of 10 (3 already answered and saved)" in resumed.stdout
    assert "Item 1 of 10" not in resumed.stdout
    assert "Total: 3, minimal" in resumed.stdout


def test_quit_then_offer_to_resume_or_abandon(c1):
    quit_ = c1("administer", "c1", "phq9", input=lines(2, 2, "q"))
    assert quit_.exit_code == 0 and "Saved 2 answers" in quit_.output
    # Input ending at the offer changes nothing.
    ended = c1("administer", "c1", "phq9", input="")
    assert ended.exit_code == 1 and "Nothing changed." in ended.stderr
    # Naming the measure again offers the unfinished one; bad choice re-asked, then resume.
    again = c1("administer", "c1", "phq9", input=lines("x", "r", 0, 0, 0, 0, 0, 0, 0, "s"))
    assert "phq9 was interrupted in session 1 after 2 answers" in again.stdout
    assert "Please type one of: r, a, q." in again.stdout
    assert again.exit_code == 0 and "Total: 4, minimal" in again.stdout
    # Start a new one and abandon it by choosing "a" the next time.
    c1("administer", "c1", "gad7", input=lines(3))
    fresh = c1("administer", "c1", "gad7", input=lines("a", 1, 1, 1, 1, 1, 1, 1, 0))
    assert fresh.exit_code == 0 and "Total: 7, mild" in fresh.stdout
    audit = json.loads(c1("audit", "c1", "--json").stdout)
    assert [a["reason"] for a in audit if a["action"] == "administration abandoned"] == ["abandoned to start again"]


def test_abandon_by_id(c1):
    c1("administer", "c1", "phq9", input=lines(1))
    result = c1("administer", "c1", "--abandon", "1", "--reason", "client left")
    assert result.exit_code == 0 and "Abandoned administration 1" in result.output
    none_left = c1("administer", "c1")
    assert none_left.exit_code == 2 and "name the measures to give" in none_left.output


def test_skip_is_refused_beyond_the_missing_rule(c1):
    result = c1("administer", "c1", "phq9", input=lines("s", "s", "s", "d", 0, 0, 0, 0, 0, 0, 0))
    assert "This item cannot be skipped" in result.stdout and "at most 2" in result.stdout
    assert result.exit_code == 0
    # Items 1-2 skipped, item 3 declined: 3 of 9 missing is beyond the rule, so the total is not scored.
    assert "Total: not scored" in result.stdout


def test_paper_forms_answers_and_json(c1):
    result = c1("administer", "c1", "phq9", "--answers", "3,3,3,3,3,3,3,3,1", "--json")
    data = json.loads(result.stdout)
    assert data[0]["score"]["total"]["value"] == 25  # 8 x 3 + 1
    assert "!!! CRITICAL" in result.stderr
    # The JSON carries the client's open alerts, the one this entry raised among them.
    assert [(a["kind"], a["item_id"]) for a in data[0]["open_alerts"]] == [("critical-item", "9")]
    # A second entry under --json: the alert still open from the first is on stderr before anything is
    # stored (standard output stays JSON), and in the JSON.
    again = c1("administer", "c1", "phq9", "--answers", "0,0,0,0,0,0,0,0,0", "--json")
    assert "OPEN CRITICAL ALERT" in again.stderr and "OPEN CRITICAL ALERT" not in again.stdout
    assert [a["item_id"] for a in json.loads(again.stdout)[0]["open_alerts"]] == ["9"]
    bad = c1("administer", "c1", "phq9", "--answers", "1,2,3")
    assert bad.exit_code == 2 and "phq9 takes 9 or 10 answers, got 3" in bad.output
    two = c1("administer", "c1", "phq9", "gad7", "--answers", "1")
    assert two.exit_code == 2 and "name exactly one" in two.output


def test_paper_forms_from_file_validated_before_any_is_stored(c1, tmp_path):
    good = tmp_path / "forms.csv"
    good.write_text('instrument,answers\nphq9,"1,1,1,1,1,1,1,1,0"\ngad7,"2,2,2,2,2,2,2"\n')
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instrument": "phq9", "answers": [0] * 9},
                               {"instrument": "gad7", "answers": [1, 1, "x", 1, 1, 1, 1]}]))
    refused = c1("administer", "c1", "--from-file", bad)
    assert refused.exit_code == 2 and "entry 2" in refused.output and "'x' is not a whole number" in refused.output
    assert json.loads(c1("session", "list", "c1", "--json").stdout)[0]["measures"] == []
    stored = c1("administer", "c1", "--from-file", good)
    assert stored.exit_code == 0 and "Stored 2 administrations" in stored.stdout
    assert json.loads(c1("session", "list", "c1", "--json").stdout)[0]["measures"] == ["phq9 8", "gad7 14"]


def test_due_and_administer_due(c1):
    due = json.loads(c1("due", "c1", "--json").stdout)
    assert due["to_give"] == ["phq9", "gad7", "mspss", "wsas", "icg"]
    c1("administer", "c1", "phq9", "--answers", "0,0,0,0,0,0,0,0,0")
    text = c1("due", "c1").stdout
    assert "due, done" in text and "ipt administer c1 --due" in text
    # --due gives exactly what is left: gad7 first (then the rest; input ends during mspss).
    result = c1("administer", "c1", "--due", input=lines(*[0] * 8))
    assert "GAD-7" in result.stdout and "PHQ-9 -" not in result.stdout
    assert result.exit_code == 1 and "resume with: ipt administer c1" in result.stderr


def test_clinician_rated_instrument_is_entered_the_same_way(c1):
    result = c1("administer", "c1", "hrsd17", input=lines(0))
    assert "Clinician-rated: enter your rating for each item." in result.stdout
    assert re.search(r"Item 2 of \d+", result.stdout)


def test_amend_and_audit(c1):
    c1("administer", "c1", "phq9", "--answers", "2,2,2,2,2,2,2,2,0")  # 16
    result = c1("amend", "c1", "phq9", "--session", "1", "--item", "1", "--value", "0", "--reason", "misread")
    assert result.exit_code == 0 and "Total: 14, moderate" in result.stdout
    assert "Total before the amendment: 16" in result.stdout
    trail = json.loads(c1("audit", "c1", "--json").stdout)
    amendment = next(a for a in trail if a["action"] == "amendment")
    assert (amendment["field"], amendment["old_value"], amendment["new_value"], amendment["reason"]) == (
        "item 1", "2", "0", "misread")
    no_reason = c1("amend", "c1", "phq9", "--session", "1", "--item", "1", "--value", "1")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output


def test_session_list_and_amend(c1, engine):
    c1("session", "start", "c1", "--date", "2026-01-12")
    result = c1("session", "amend", "c1", "2", "--date", "2026-01-13", "--reason", "wrong day", "--by", "dr-k")
    assert result.exit_code == 0
    entry = json.loads(c1("audit", "c1", "--json").stdout)[-1]
    assert (entry["declared_actor"], entry["field"], entry["old_value"], entry["new_value"]) == (
        "dr-k", "date", "2026-01-12", "2026-01-13")
    from conftest import audit_actor

    # The login (SQLite) or the server's session_user (PostgreSQL), not the declared name (issue 10 part 7).
    assert entry["actor"] == audit_actor(engine)
    rows = json.loads(c1("session", "list", "c1", "--json").stdout)
    assert [(r["number"], r["date"], r["phase"]) for r in rows] == [(1, "2026-01-05", "initial"), (2, "2026-01-13", "initial")]
    courses = json.loads(c1("course", "show", "c1", "--json").stdout)
    assert courses[0]["sessions_held"] == 2


def test_unknown_instrument_and_client_are_one_line_errors(c1):
    result = c1("administer", "c1", "nope")
    assert result.exit_code == 2 and result.output.startswith("Error: unknown instrument 'nope'")
    result = c1("administer", "ghost", "phq9")
    assert result.exit_code == 1 and "no client 'ghost'" in result.output


def test_course_end(c1):
    assert c1("course", "end", "c1", "--reason", "completed", "--date", "2026-04-20").exit_code == 0
    result = c1("session", "start", "c1")
    assert result.exit_code == 2 and "no active course" in result.output


def _blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_first_session_walkthrough_runs_as_written(tmp_path, engine):
    """The README's first-session walk-through is copy-paste runnable: its bash blocks run in order, the PHQ-9
    typed as it says; on PostgreSQL the same blocks with its first line pointing IPT_DB at the server."""
    import os
    import shlex
    import subprocess
    import sys

    from conftest import on_server, readme_section

    doc = readme_section("A first session, step by step")
    assert "`1 2 1 1 0 1 1 0 0`, one per line, then `1`" in doc
    script = "set -e\n" + "\n".join(_blocks(doc, "bash"))
    practice = 'export IPT_DB="$PWD/practice.db"'
    assert practice in script
    if on_server(engine):
        script = script.replace(practice, f"export IPT_DB={shlex.quote(engine)}")
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]  # where `ipt` is installed
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, input="1\n2\n1\n1\n0\n1\n1\n0\n0\n1\n",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = result.stdout
    assert (tmp_path / "practice.db").exists() != on_server(engine)  # on a server, nothing in the folder
    # Hand-summed: PHQ-9 1+2+1+1+0+1+1+0+0 = 7 mild (Kroenke et al. 2001); GAD-7 1+1+2+1+0+1+1 = 7 mild
    # (Spitzer et al. 2006); MSPSS mean 62/12 = 5.17 -> 5.2 (Zimet et al. 1988); WSAS 3+4+2+3+4 = 16.
    for expected in ("PHQ-9 (phq9), session 1: complete and saved\nTotal: 7, mild",
                     "GAD-7 (gad7), session 1: complete and saved\nTotal: 7, mild", "Total: 5.2", "Total: 16",
                     "Total: 8, mild", "Total before the amendment: 7"):
        assert expected in out, expected
    assert "amendment" in out and "client corrected the appetite item" in out
