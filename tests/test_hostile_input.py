"""Bad input, everywhere: no traceback ever reaches the user, and a refused command changes no stored record.

Property-based (hypothesis) over every command's arguments and prompts, and over the files commands read:
random and hostile strings, huge numbers, unicode, empty and malformed CSV / JSON / FHIR files, and
declarative instrument files with every kind of mistake. The scoring engine's own properties are checked
over every instrument in tests/test_instrument_contract.py; here the target is what a user can type or feed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipt_measures import demo
from ipt_measures.cli import cli
from ipt_measures.plugins import use_registry
from ipt_measures.store import open_store

from conftest import ROOT, db_digest

# The same examples on every run, so an unrelated change never turns the suite red by chance. To search for
# new gaps: IPT_FUZZ_RANDOM=1 IPT_FUZZ_EXAMPLES=5000 python -m pytest tests/test_hostile_input.py
SETTINGS = dict(deadline=None, derandomize=not os.environ.get("IPT_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ = int(os.environ.get("IPT_FUZZ_EXAMPLES", 500))

HOSTILE = [
    "", " ", "-", "--", "0", "-1", "1.5", "1e309", "9" * 400, "-" + "9" * 40, "NaN", "inf", "0x1F",
    ",,,,,,,,,", "1,2,3", "3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3", "1;2;3", "3 3 3 3 3 3 3 3 3",
    "'; DROP TABLE clients; --", "Robert'); DROP TABLE responses;--", "%s%s%n", "{0}{1}", "$(id)",
    "\x00", "a\x00b", "\u202e\u0645", "名前", "🙂🙂", "e\u0301", "\ud7ff", "a" * 5000, "\n\n", "\r\n", "\t",
    "../x", "nonexistent/x.csv", "demo-0001", "c1", "phq9", "gad7", "2026-02-30", "9999-12-31", "0001-01-01",
    "grief", "middle", "csv-long", "fhir", "json",
]

IMPORT_HEADER = ("client_id,course_start,planned_sessions,problem_areas,protocol,session,session_date,phase,"
                 "administration,instrument,instrument_version,respondent,completed_at,item,value,status,total,band,"
                 "critical_items,scorer")
GOOD_ROW = "demo-9001,2026-01-05,12,grief,,1,2026-01-05,initial,1,phq9,1,self-report,2026-01-05T10:00:00+00:00,{item},{value},answered,,,,"


def safe_text():
    """Random unicode, kept off absolute paths (a hostile argument must not write outside the test folder)."""
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).map(
        lambda s: "./" + s if s.startswith(("/", "~")) else s)


def numbers():
    return st.one_of(st.integers(-5, 40), st.integers(min_value=10**6), st.integers(max_value=-(10**6)),
                     st.floats(allow_nan=True, allow_infinity=True)).map(str)


def command_paths():
    """Every command and subcommand, with its option names (so the fuzzer uses real flags too)."""
    ctx = click.Context(cli)
    found = []

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None:
                continue
            if isinstance(command, click.Group):
                walk(command, prefix + [name])
            else:
                options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
                found.append((prefix + [name], options))

    walk(cli, [])
    return found


# Commands that run until stopped (a server; a watcher that waits for the client's device) would hang the
# fuzzer on the first valid draw; their bad input is tested in tests/test_web.py.
RUN_UNTIL_STOPPED = {("serve",), ("handover",)}
COMMANDS = [(path, options) for path, options in command_paths() if tuple(path) not in RUN_UNTIL_STOPPED]


def digest(path):
    return db_digest(path, check_integrity=True)


@pytest.fixture
def record(tmp_path, monkeypatch):
    """A small caseload (demo clients plus one by hand with a session today), as the default database."""
    db = tmp_path / "ipt-data" / "ipt.db"
    with open_store(db) as store:
        demo.populate(store, 3, 2, as_of=date.today())
        store.add_client("c1")
        course = store.start_course("c1", date.today().isoformat(), 16, ["grief"], "ipt-default")
        store.add_session(course["id"], 1, date.today().isoformat(), "initial")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # anything a command writes by a relative name lands here
    use_registry(None)
    return db


runner = CliRunner()


def run(args, input=None):
    """The real command line in-process; the registry is kept between calls (it does not change here)."""
    result = runner.invoke(cli, args, input=input, catch_exceptions=True)
    output = result.output  # Click 8.2+: stdout and stderr together, as the user sees them
    assert "Traceback" not in output, output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ipt {args!r} raised {type(result.exception).__name__}: {result.exception}")
    # The CLI's last resort turns an unforeseen exception into "Error: unexpected ...": no traceback, but
    # not a clear message either, so it counts as a failure here.
    assert "Error: unexpected" not in output, f"ipt {args!r}: {output}"
    return result


def assert_refused_cleanly(result, args):
    assert result.exit_code != 0, f"ipt {args!r} accepted bad input:\n{result.output}"
    assert result.output.strip(), f"ipt {args!r}: refused without saying why"
    first = result.output.strip().splitlines()[0]
    assert len(first) < 400 or first.startswith("Error:"), first


# -- inputs that once crashed a command: each is kept as a case that must be refused in one line --------------

DEEP_JSON = "[" * 100000 + "]" * 100000


@pytest.mark.parametrize("args,files,where", [
    (["instruments", "validate", "a\x00b"], {}, "cli/instruments.py: FILES is a click.Path (use cli/common.SafePath)"),
    (["administer", "c1", "--from-file", "a\x00b"], {}, "cli/record.py: --from-file is a click.Path (use SafePath)"),
    (["import", "a\x00b"], {}, "cli/exchange.py: FILE is a click.Path (use cli/common.SafePath)"),
    (["export", "--all", "-o", "a\x00b"], {}, "cli/exchange.py: -o is a click.Path (use cli/common.SafePath)"),
    (["import", "b.json", "--format", "fhir"], {"b.json": '{"resourceType": "Bundle", "entry": [{"resource": true}]}'},
     "importer.py: a Bundle entry whose resource is not an object raises AttributeError"),
    (["import", "c.json", "--format", "fhir"], {"c.json": '{"resourceType": "Bundle", "entry": [7]}'},
     "importer.py: a Bundle entry that is not an object was skipped without a word"),
    (["import", "deep.json"], {"deep.json": DEEP_JSON}, "importer.py: deeply nested JSON raises RecursionError"),
    (["import", "big.csv"], {"big.csv": IMPORT_HEADER + "\n" + "x" * 200000},
     "importer.py: a CSV field over csv.field_size_limit() raises csv.Error, shown as 'unexpected Error'"),
    (["instruments", "validate", "huge.json"], {"huge.json": "HUGE_OPTION"},
     "declarative.py: an option value of 10**40 raises decimal.InvalidOperation, shown as 'unexpected'"),
    (["import", "ipt-copy.db"], {"ipt-copy.db": b"SQLite format 3\x00\xfb\xfc"},
     "importer.py: a file that is not UTF-8 text raises UnicodeDecodeError, shown as 'unexpected'"),
    (["administer", "c1", "--from-file", "forms.csv"], {"forms.csv": b"\xfb\xfc\x00abc"},
     "record.read_entries_file: a file that is not UTF-8 text raises UnicodeDecodeError"),
    (["administer", "c1", "--from-file", "deep.json"], {"deep.json": DEEP_JSON},
     "record.read_entries_file: deeply nested JSON raises RecursionError"),
], ids=["validate-nul", "from-file-nul", "import-nul", "export-nul", "fhir-resource-not-object", "fhir-entry-not-object",
        "import-deep-json", "import-huge-field", "validate-huge-option", "import-binary", "from-file-binary",
        "from-file-deep-json"])
def test_inputs_that_once_crashed_are_refused_in_one_line(record, args, files, where):
    """``where`` says what used to go wrong (an exception shown as "Error: unexpected ...", or worse)."""
    for name, content in files.items():
        if content == "HUGE_OPTION":
            content = dumped(mutate(json.loads(json.dumps(BASE)), ("options", 0, "value"), 10**40))
        if isinstance(content, bytes):
            Path(name).write_bytes(content)
        else:
            Path(name).write_text(content)
    before = digest(record)
    result = run(args)
    assert_refused_cleanly(result, args)
    assert digest(record) == before


# -- every command, random arguments and prompt answers ---------------------------------------------------

tokens = st.one_of(st.sampled_from(HOSTILE), safe_text(), numbers())


@settings(max_examples=FUZZ, **SETTINGS)
@given(data=st.data())
def test_any_command_with_hostile_arguments_never_tracebacks_or_loses_records(record, data):
    path, options = data.draw(st.sampled_from(COMMANDS), label="command")
    words = data.draw(st.lists(st.one_of(tokens, st.sampled_from(options or ["--json"])), max_size=6), label="args")
    prompt = data.draw(st.one_of(st.none(), st.lists(tokens, max_size=12).map("\n".join)), label="stdin")
    before = digest(record)
    result = run(path + words, input=prompt)
    if result.exit_code != 0:
        assert digest(record) == before, f"ipt {path + words!r} failed but changed the record"
    else:
        digest(record)  # integrity still ok


@pytest.mark.parametrize("args", [
    ["score", "phq9", "--answers", "3,3,3,3,3,3,3,3,3,3,3,3"],
    ["score", "phq9", "--answers", "9" * 400 + ",0,0,0,0,0,0,0,0"],
    ["score", "phq9", "--answers", "4,0,0,0,0,0,0,0,0"],
    ["score", "phq9", "--answers", "-1,0,0,0,0,0,0,0,0"],
    ["score", "phq9", "--answers", "1.5,0,0,0,0,0,0,0,0"],
    ["score", "no-such", "--answers", "1"],
    ["score", "phq9", "--answers", ""],
    ["administer", "c1", "phq9", "--answers", "3,3,3,3,3,3,3,3,3,3,3,3"],
    ["administer", "c1", "phq9", "--answers", "x"],
    ["administer", "nobody", "phq9", "--answers", "0,0,0,0,0,0,0,0,0"],
    ["administer", "c1", "phq9", "--session", str(10**30), "--answers", "0,0,0,0,0,0,0,0,0"],
    ["administer", "c1", "no-such"],
    ["amend", "c1", "phq9", "--item", "9", "--value", str(10**30), "--reason", "x"],
    ["amend", "c1", "phq9", "--item", "\x00", "--value", "1", "--reason", "x"],
    ["clients", "add", "a b"],
    ["clients", "add", "x" * 65],
    ["clients", "add", "c1"],
    ["course", "start", "c1", "--problem-area", "grief"],
    ["session", "amend", "c1", "1", "--date", "2026-02-30", "--reason", "x"],
    ["progress", "nobody"],
    ["export", "nobody"],
    ["export", "--all", "--format", "nope"],
    ["export", "--all", "-o", "{FULL}"],  # once replaced by a regular file through os.replace (as root)
    ["export", "--all", "-o", "no-such-folder/x.csv"],
    ["import", "no-such-file.csv"],
    ["demo", "--clients", str(10**30)],
    ["demo", "--clients", "3"],  # the record holds a real client: the demo refuses it
    ["demo", "--as-of", "\x00"],
    ["backup", "{FULL}", "--force"],
    ["backup", "a\x00b"],
    ["backup", "a" * 5000],
    ["backup", "no-such-folder/b.db"],
    ["doctor", "--db", "a\x00b"],
    ["doctor", "--fmt", "no-such-format"],
    ["caseload", "--fmt", "no-such-format"],
    ["instruments", "show", "\u202e"],
    ["instruments", "validate", "no-such-file.toml"],
    ["report", "nobody", "-o", "r.html"],
])
def test_known_bad_input_is_refused_in_one_line_and_changes_nothing(record, args, tmp_path):
    device = None
    if "{FULL}" in args:
        # A disk that is always full: a private copy of /dev/full (never the real one: as root, a command
        # that replaced its output file would replace the system's device).
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        device = tmp_path / "full"
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        args = [str(device) if a == "{FULL}" else a for a in args]
    before = digest(record)
    result = run(args)
    assert_refused_cleanly(result, args)
    assert digest(record) == before
    if device is not None:
        assert device.is_char_device(), "the output device was replaced by a regular file"


# The exact one-line messages for files that once crashed (line numbers counted by hand from the content).
@pytest.mark.parametrize("args,name,content,message", [
    (["import"], "ipt-copy.db", b"SQLite format 3\x00\xfb\xfc",
     "Error: ipt-copy.db is not UTF-8 text (line 1): import takes a CSV or FHIR JSON file saved as UTF-8"),
    (["import"], "scores.csv",
     (IMPORT_HEADER + "\n" + GOOD_ROW.format(item=1, value=1) + "\nbad \xff byte\n").encode("latin-1"),
     "Error: scores.csv is not UTF-8 text (line 3): import takes a CSV or FHIR JSON file saved as UTF-8"),
    (["import"], "big.csv", (IMPORT_HEADER + "\n" + "x" * 200000).encode(),
     "Error: big.csv line 2: a field is longer than 131072 characters; this is not an ipt CSV"),
    (["import"], "b.json", b'{"resourceType": "Bundle", "entry": [{"resource": {}}, {"resource": true}]}',
     "Error: b.json: entry 2: the resource is not a JSON object"),
    (["import"], "c.json", b'{"resourceType": "Bundle", "entry": [7]}', "Error: c.json: entry 1 is not a JSON object"),
    (["import"], "deep.json", DEEP_JSON.encode(), "Error: deep.json is nested too deeply to be a FHIR resource"),
    (["administer", "c1", "--from-file"], "forms.csv", b"instrument,answers\nphq9,\xfb\xfc",
     "Error: forms.csv line 2: not UTF-8 text (save the forms as a UTF-8 CSV or JSON file)"),
    (["administer", "c1", "--from-file"], "deep.json", DEEP_JSON.encode(),
     "Error: deep.json: JSON nested too deeply (expected a list of {instrument, answers} objects)"),
])
def test_unreadable_files_are_refused_with_a_message_naming_the_file(record, args, name, content, message):
    assert csv_field_limit() == 131072  # the csv module's default, which the expected message states
    Path(name).write_bytes(content)
    before = digest(record)
    result = run([*args, name])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [message]
    assert digest(record) == before


def csv_field_limit():
    import csv

    return csv.field_size_limit()


@pytest.mark.parametrize("mistake,message", [
    (("options", 0, "value", 10**40), "options[0].value: Input should be less than or equal to 1000"),
    (("options", 0, "value", -1001), "options[0].value: Input should be greater than or equal to -1000"),
    (("scales", 0, "multiplier", 1e40),
     "scales[0] (id 'total').multiplier: Input should be less than or equal to 1000"),
])
def test_huge_numbers_in_a_definition_are_named_by_path(tmp_path, mistake, message):
    bad = tmp_path / "huge.json"
    bad.write_text(dumped(mutate(json.loads(json.dumps(BASE)), mistake[:-1], mistake[-1])))
    result = run(["instruments", "validate", str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"{bad}: invalid (1 problem)", f"  {message}"]


# -- output files that are not regular files: written through, never replaced --------------------------------

def read_fifo_in_background(fifo):
    """Open ``fifo`` for reading in a thread (a writer's open blocks until a reader comes) and collect it."""
    import threading

    got = {}

    def reader():
        with open(fifo, "rb") as handle:
            got["data"] = handle.read()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread, got


def test_export_to_a_fifo_writes_through_it(record, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    thread, got = read_fifo_in_background(fifo)
    result = run(["export", "--all", "-o", str(fifo)])
    thread.join(timeout=120)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got["data"].decode().startswith("client_id,course_start,")
    assert not list(tmp_path.glob(".*partial"))


def test_export_to_a_device_writes_through_it(record, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    device = tmp_path / "null"  # a private copy of /dev/null, never the real one
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = run(["export", "--all", "-o", str(device)])
    assert result.exit_code == 0, result.output
    assert device.is_char_device(), "the output device was replaced by a regular file"
    assert os.stat(device).st_rdev == os.makedev(1, 3)


def test_export_through_a_symbolic_link_replaces_the_file_and_keeps_the_link(record, tmp_path):
    target = tmp_path / "latest-export.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    result = run(["export", "--all", "-o", str(link), "--force"])  # replacing an existing file needs --force
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert target.read_text().startswith("client_id,course_start,")


def test_report_to_a_full_device_is_refused_in_one_line_and_the_device_stays(record, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    device = tmp_path / "full.html"  # a private copy of /dev/full
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    result = run(["report", "demo-0001", "-o", str(device)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[0] == f"Error: cannot write {device}: No space left on device"
    assert device.is_char_device()


def test_report_to_a_fifo_writes_through_it(record, tmp_path):
    fifo = tmp_path / "report.html"
    os.mkfifo(fifo)
    thread, got = read_fifo_in_background(fifo)
    result = run(["report", "demo-0001", "-o", str(fifo)])
    thread.join(timeout=120)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got["data"].startswith(b"<!doctype html>")


# -- the interactive administration: hostile answers at the prompt ---------------------------------------

@settings(max_examples=FUZZ // 8, **SETTINGS)
@given(lines=st.lists(st.one_of(st.sampled_from(HOSTILE + ["b", "s", "d", "?", "q", "B", "3", "0"]), safe_text(),
                                numbers()), max_size=30))
def test_prompt_answers_never_traceback_and_only_valid_answers_are_stored(record, lines):
    result = run(["administer", "c1", "phq9"], input="\n".join(lines) + "\n")
    assert result.exit_code in (0, 1, 130), result.output
    conn = sqlite3.connect(record)
    for item, value, status in conn.execute(
            "SELECT r.item_id, r.value, r.status FROM responses r JOIN administrations a ON a.id = r.administration_id"
            " WHERE a.instrument_id = 'phq9' AND a.source != 'demo'"):
        assert (status == "answered" and value in (0, 1, 2, 3)) or (status != "answered" and value is None)
    conn.close()
    run(["administer", "c1", "--abandon", "0"], input="")  # a bad id: clean refusal too


# -- files: CSV, JSON, FHIR imports and paper forms --------------------------------------------------------


def csv_files():
    cell = st.one_of(st.sampled_from(HOSTILE), safe_text(), numbers())
    row = st.lists(cell, min_size=0, max_size=22).map(lambda cells: ",".join(c.replace("\n", " ") for c in cells))
    good = st.builds(lambda v: "\n".join(GOOD_ROW.format(item=i, value=v if i == 3 else 1) for i in range(1, 10)),
                     st.one_of(st.sampled_from(HOSTILE), numbers()))
    body = st.lists(st.one_of(row, good), max_size=8).map("\n".join)
    return st.one_of(
        st.just(""),
        st.just(IMPORT_HEADER),
        st.builds(lambda b: IMPORT_HEADER + "\n" + b, body),
        st.builds(lambda b: b, body),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        st.just('"' * 1000),
        st.just(IMPORT_HEADER + "\n" + "x," * 200000),
    )


def json_files():
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.sampled_from(HOSTILE))
    tree = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.sampled_from(
                                                          ["resourceType", "entry", "resource", "item", "linkId",
                                                           "answer", "valueCoding", "valueInteger", "questionnaire",
                                                           "subject", "reference", "status", "instrument", "answers",
                                                           "code", "authored"]), inner, max_size=5)), max_leaves=30)
    bundles = st.builds(lambda e: {"resourceType": "Bundle", "type": "collection", "entry": e},
                        st.lists(st.builds(lambda r: {"resource": r}, tree), max_size=3))
    return st.one_of(
        tree.map(json.dumps), bundles.map(json.dumps),
        st.just("[" * 50 + "]" * 50),
        st.just('{"resourceType": "QuestionnaireResponse"'), st.just("\ufeff{}"), st.just("null"),
        st.just('{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "QuestionnaireResponse",'
                ' "status": "completed", "questionnaire": "phq9", "item": [{"linkId": "1", "answer":'
                ' [{"valueInteger": 1e400}]}]}}]}'),
    )


@settings(max_examples=FUZZ // 4, **SETTINGS)
@given(content=st.one_of(csv_files(), json_files()), suffix=st.sampled_from([".csv", ".json", ".txt", ""]),
       how=st.sampled_from(["import", "import-csv", "import-fhir", "dry-run", "from-file"]))
def test_malformed_files_are_refused_cleanly_and_store_nothing(record, content, suffix, how):
    path = Path(f"input{suffix}")
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    args = {"import": ["import", str(path)], "import-csv": ["import", str(path), "--format", "csv"],
            "import-fhir": ["import", str(path), "--format", "fhir"], "dry-run": ["import", str(path), "--dry-run"],
            "from-file": ["administer", "c1", "--from-file", str(path)]}[how]
    before = digest(record)
    result = run(args)
    if result.exit_code != 0:
        assert digest(record) == before


@pytest.mark.parametrize("content", ["", "\n", IMPORT_HEADER, "\x00" * 100, "[" * 50, "{}", "[]", "\ufeff", "a,b\n1"])
@pytest.mark.parametrize("command", [["import"], ["administer", "c1", "--from-file"]])
def test_empty_and_degenerate_files(record, content, command):
    Path("f.csv").write_text(content)
    before = digest(record)
    result = run([*command, "f.csv"])
    nothing_to_do = (command == ["import"] and content in ("", "\n", IMPORT_HEADER)) or content == "[]"
    if not (nothing_to_do and result.exit_code == 0):  # a file with no records may succeed, storing nothing
        assert_refused_cleanly(result, command)
    assert digest(record) == before


# -- declarative instrument files with every kind of mistake -------------------------------------------------

BASE = {
    "id": "scc3", "name": "Made-up check", "citation": "Invented for a test.", "licence": "CC0",
    "respondent": "self-report", "domain": "other",
    "options": [{"value": 0, "label": "No"}, {"value": 1, "label": "Some"}, {"value": 2, "label": "Yes"}],
    "items": [{"id": "1", "text": "One"}, {"id": "2", "text": "Two"}, {"id": "3", "text": "Three"}],
    "scales": [{"id": "total", "name": "Total", "items": ["1", "2", "3"], "reversed": ["2"], "range": [0, 6],
                "bands_source": "made up", "bands": [{"min": 0, "max": 3, "label": "low"}, {"min": 4, "max": 6, "label": "high"}],
                "missing": {"max_missing": 0, "source": "made up"}}],
    "critical": [{"item": "3", "at_least": 2, "message": "ask", "source": "made up"}],
}

# Each mistake is (path, new value); None deletes the key. Every one of them must be refused.
MISTAKES = [
    (("id",), None), (("id",), "Has Space"), (("id",), ""), (("id",), 7), (("name",), None), (("citation",), ""),
    (("licence",), "x" * 500), (("respondent",), "robot"), (("domain",), "astrology"), (("items",), []),
    (("items",), [{"id": "1"}, {"id": "1"}, {"id": "3"}]), (("items", 0, "id"), "no spaces allowed"),
    (("options",), []), (("options", 0, "value"), "zero"), (("options", 0, "value"), -(10**6)), (("options", 1, "label"), ""),
    (("scales",), []), (("scales", 0, "items"), ["1", "2", "4"]), (("scales", 0, "items"), ["1", "1", "2"]),
    (("scales", 0, "reversed"), ["9"]), (("scales", 0, "range"), [0, 99]), (("scales", 0, "range"), "0-6"),
    (("scales", 0, "bands"), [{"min": 0, "max": 2, "label": "low"}, {"min": 4, "max": 6, "label": "high"}]),
    (("scales", 0, "bands"), [{"min": 0, "max": 4, "label": "low"}, {"min": 3, "max": 6, "label": "high"}]),
    (("scales", 0, "bands", 0, "min"), float("inf")), (("scales", 0, "bands_source"), None),
    (("scales", 0, "missing"), None), (("scales", 0, "missing", "max_missing"), -1),
    (("scales", 0, "missing", "source"), ""), (("scales", 0, "method"), "median"), (("scales", 0, "multiplier"), 0),
    (("scales", 0, "decimals"), 9), (("critical", 0, "item"), "99"), (("critical", 0, "at_least"), None),
    (("critical", 0, "kind"), "boredom"), (("critical", 0, "source"), None), (("surprise",), "an unknown key"),
    (("scales", 0, "change"), {"higher_is_worse": "sometimes", "source": "x"}),
    (("scales", 0, "change"), {"higher_is_worse": True, "reliability": 1.5, "source": "x"}),
    # Numbers past Decimal's 28 digits once escaped validation as decimal.InvalidOperation.
    (("options", 0, "value"), 10**40), (("options", 2, "value"), 1001), (("scales", 0, "multiplier"), 1e40),
    (("scales", 0, "multiplier"), float("inf")), (("scales", 0, "bands", 0, "max"), float("inf")),
    (("scales", 0, "bands", 1, "max"), 1e300),
]


def mutate(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def dumped(data):
    return json.dumps(data, allow_nan=True)


@pytest.mark.parametrize("path,value", MISTAKES, ids=[".".join(map(str, p)) + "=" + repr(v)[:20] for p, v in MISTAKES])
def test_every_kind_of_definition_mistake_is_named_not_raised(tmp_path, path, value):
    good = tmp_path / "good.json"
    good.write_text(dumped(BASE))
    assert run(["instruments", "validate", str(good)]).exit_code == 0  # the base really is valid
    bad = tmp_path / "bad.json"
    bad.write_text(dumped(mutate(json.loads(json.dumps(BASE)), path, value)))
    result = run(["instruments", "validate", str(bad)])
    assert result.exit_code == 1, result.output
    assert "invalid" in result.output


@settings(max_examples=FUZZ // 4, **SETTINGS)
@given(mistakes=st.lists(st.sampled_from(MISTAKES), min_size=1, max_size=4),
       extra=st.dictionaries(safe_text(), st.one_of(st.sampled_from(HOSTILE), numbers()), max_size=2))
def test_combined_definition_mistakes_never_traceback(tmp_path_factory, mistakes, extra):
    data = json.loads(json.dumps(BASE))
    for path, value in mistakes:
        try:
            mutate(data, path, value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mistake removed what this one would change
    data.update(extra)
    path = tmp_path_factory.mktemp("defs") / "bad.json"
    path.write_text(dumped(data))
    result = run(["instruments", "validate", str(path)])
    assert result.exit_code == 1, result.output


def toml_texts():
    source = (ROOT / "plugins" / "phq9.toml").read_text()
    lines = source.splitlines()

    def damage(ops):
        out = list(lines)
        for kind, pos, text in ops:
            pos %= max(1, len(out))
            if kind == "delete" and out:
                del out[pos]
            elif kind == "duplicate" and out:
                out.insert(pos, out[pos])
            elif kind == "insert":
                out.insert(pos, text)
            elif kind == "truncate" and out:
                out[pos] = out[pos][: len(out[pos]) // 2]
        return "\n".join(out)

    op = st.tuples(st.sampled_from(["delete", "duplicate", "insert", "truncate"]), st.integers(0, 10**6),
                   st.one_of(st.sampled_from(["[[items]]", "id = 'x'", "value = nan", "value = inf", "= =", "[scales",
                                              "items = [", "max_missing = 99999999999999999999999", '"\\u0000"']),
                             safe_text()))
    return st.lists(op, min_size=1, max_size=5).map(damage)


@settings(max_examples=FUZZ // 4, **SETTINGS)
@given(text=toml_texts())
def test_damaged_toml_files_are_validated_without_traceback(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("toml") / "phq9-copy.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = run(["instruments", "validate", str(path)])
    assert result.exit_code in (0, 1)
    if result.exit_code == 0:
        assert "valid (" in result.output


def test_a_broken_file_in_the_instruments_folder_does_not_take_the_cli_down(isolated_data, tmp_path):
    folder = isolated_data / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.toml").write_text("id = 'broken'\n[[items]\n")
    (folder / "wrong.json").write_text(dumped(mutate(json.loads(json.dumps(BASE)), ("scales", 0, "reversed"), ["9"])))
    use_registry(None)
    listed = run(["instruments", "list", "--json"])
    assert listed.exit_code == 0
    ids = {row["id"] for row in json.loads(listed.stdout)}
    assert "phq9" in ids and "scc3" not in ids and "broken" not in ids
    plugins = run(["plugins", "--json"])
    errors = " ".join(e for p in json.loads(plugins.stdout) for e in p["errors"])
    assert "broken.toml" in errors and "wrong.json" in errors
    use_registry(None)


def test_a_deeply_nested_file_in_the_instruments_folder_is_refused_by_name(isolated_data):
    """One deeply nested JSON file once raised RecursionError out of the whole folder hook: the message did
    not name the file and the folder's other instruments were not loaded."""
    folder = isolated_data / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a-nested.json").write_text(DEEP_JSON)
    (folder / "b-good.json").write_text(dumped(BASE))
    use_registry(None)
    listed = run(["instruments", "list", "--json"])
    plugins = run(["plugins", "--json"])
    use_registry(None)
    errors = " ".join(e for p in json.loads(plugins.stdout) for e in p["errors"])
    ids = {row["id"] for row in json.loads(listed.stdout)}
    assert "scc3" in ids
    assert "a-nested.json: nested too deeply" in errors
