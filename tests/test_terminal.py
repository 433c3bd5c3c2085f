"""The terminal behaves as people expect (issue 15): NO_COLOR, `ipt --db X CMD`, "Did you mean", instrument ids in
any case, JSON errors under --json."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ipt_measures.cli import cli
from ipt_measures.plugins import use_registry

SEVERE = "3,3,3,3,3,3,3,3,1"  # PHQ-9 total 25 with item 9 endorsed: coloured band and a red critical line


def run(*args, env=None, color=False, input=None):
    use_registry(None)
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, color=color, input=input, catch_exceptions=False)


def test_terminal_gets_colour_without_no_color():
    """The control: on a terminal (color=True) the critical line is red, so the NO_COLOR test can fail."""
    result = run("score", "phq9", "--answers", SEVERE, color=True, env={"NO_COLOR": None})
    assert "\x1b[" in result.output + result.stderr


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_color_means_no_ansi_even_on_a_terminal(value):
    result = run("score", "phq9", "--answers", SEVERE, color=True, env={"NO_COLOR": value})
    assert result.exit_code == 0
    assert "CRITICAL" in result.output + result.stderr
    assert "\x1b[" not in result.output + result.stderr


def test_empty_no_color_is_not_set():
    """no-color.org: NO_COLOR counts when present and not an empty string."""
    result = run("score", "phq9", "--answers", SEVERE, color=True, env={"NO_COLOR": ""})
    assert "\x1b[" in result.output + result.stderr


def test_db_on_the_group_as_well_as_on_the_command(tmp_path):
    db, other = tmp_path / "group.db", tmp_path / "other.db"
    assert run("--db", db, "demo", "--clients", "2").exit_code == 0
    assert db.exists()
    listed = run("--db", db, "clients", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [c["id"] for c in json.loads(listed.output)] == ["demo-0001", "demo-0002"]
    assert run("--db", db, "caseload").exit_code == 0
    # The command's own --db wins over the group's.
    assert run("--db", db, "clients", "add", "c-other", "--db", other).exit_code == 0
    assert "c-other" not in run("--db", db, "clients", "list").output
    assert "c-other" in run("clients", "list", "--db", other).output


def test_mistyped_command_suggests_the_nearest():
    result = run("caselod")
    assert result.exit_code == 2
    assert "Did you mean 'caseload'?" in result.stderr


def test_unlike_command_gets_no_suggestion():
    result = run("zzzzqq")
    assert result.exit_code == 2 and "No such command" in result.stderr and "Did you mean" not in result.stderr


def test_instrument_ids_match_case_insensitively(tmp_path):
    scored = run("score", "PHQ9", "--answers", "1,1,1,1,1,1,1,1,0", "--json")
    assert scored.exit_code == 0, scored.stderr
    assert json.loads(scored.output)["instrument"] == "phq9"
    assert run("instruments", "show", "Gad7").exit_code == 0
    db = tmp_path / "c.db"
    assert run("clients", "add", "c1", "--db", db).exit_code == 0
    assert run("course", "start", "c1", "--problem-area", "grief", "--db", db).exit_code == 0
    assert run("session", "start", "c1", "--db", db).exit_code == 0
    stored = run("administer", "c1", "PHQ9", "--answers", "1,1,1,1,1,1,1,1,0", "--db", db)
    assert stored.exit_code == 0, stored.output + stored.stderr
    progress = json.loads(run("progress", "c1", "--json", "--db", db).output)
    assert [s["instrument_id"] for s in progress["series"]] == ["phq9"]  # stored under the registered id


@pytest.mark.parametrize("args, code, words", [
    (["score", "phq9", "--answers", "1,2,3", "--json"], 2, "takes 9 or 10 answers"),
    (["score", "nosuch", "--answers", "1", "--json"], 2, "unknown instrument"),
    (["score", "phq9", "--answrs", "1", "--json"], 2, "No such option"),
    (["clients", "show", "nobody", "--json"], None, "nobody"),
    (["caseload", "--json"], None, "no database"),  # a read command never creates one
])
def test_errors_under_json_are_json_on_stderr(args, code, words):
    if words == "nobody":  # a record that exists, without that client
        assert run("clients", "add", "somebody").exit_code == 0
    result = run(*args)
    assert result.exit_code != 0 and (code is None or result.exit_code == code)
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert words in error["error"] and error["exit_code"] == result.exit_code


def test_errors_without_json_stay_one_line_of_text():
    result = run("score", "phq9", "--answers", "1,2,3")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and "{" not in result.stderr


def complete(words: str, env=None):
    """Ask the real `ipt` for completions the way bash does (Click's _IPT_COMPLETE protocol)."""
    from conftest import run_ipt

    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = run_ipt(env={"_IPT_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword),
                          **(env or {})})
    assert result.returncode == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_completion_of_commands_client_ids_and_instrument_ids(tmp_path):
    db = tmp_path / "complete.db"
    assert run("--db", db, "demo", "--clients", "12").exit_code == 0
    assert complete("ipt cas") == ["caseload"]
    assert complete("ipt progress demo-001") == []  # the default record (empty test data folder) has none
    assert complete("ipt progress demo-001", env={"IPT_DB": str(db)}) == ["demo-0010", "demo-0011", "demo-0012"]
    assert complete(f"ipt --db {db} clients show demo-000")[:2] == ["demo-0001", "demo-0002"]
    assert complete("ipt score PH") == ["phq9"]
    assert "gad7" in complete("ipt administer demo-0001 g", env={"IPT_DB": str(db)})


def test_completion_of_client_ids_from_a_server_record(pg_url):
    """With IPT_DB (or --db) naming a PostgreSQL record the client ids come from the server, as from a file."""
    for client in ("srv-01", "srv-02", "other"):
        assert run("clients", "add", client, "--db", pg_url).exit_code == 0
    assert complete("ipt progress srv", env={"IPT_DB": pg_url}) == ["srv-01", "srv-02"]
    assert complete(f"ipt --db {pg_url} clients show o") == ["other"]


def test_completion_never_creates_a_database(tmp_path):
    missing = tmp_path / "none.db"
    assert complete("ipt progress d", env={"IPT_DB": str(missing)}) == []
    assert not missing.exists()


def test_readme_documents_completion():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for shell in ("bash_source", "zsh_source", "fish_source"):
        assert f"_IPT_COMPLETE={shell} ipt" in readme
