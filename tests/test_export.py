"""`ipt export`: CSV long and wide, JSON, client selection, streaming, plugin formats.

Synthetic data only: ids ZZCLIENT-nnnn, names "Test Person A"... Expected values are worked by hand:
PHQ-9 sums its nine items and bands the total at 5/10/15/20 (Kroenke, Spitzer & Williams 2001,
Table 3); with one or two items missing the sum is prorated to nine items (Kroenke et al. 2010). The
synthetic ZZ-check scale is defined in conftest.py (the ``zzcheck`` fixture), so its expected values
follow from that definition.
"""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest

import ipt_measures
from ipt_measures.errors import NotFound, UsageError
from ipt_measures.exchange.exporting import export
from ipt_measures.plugins import build_registry, use_registry
from ipt_measures.store import open_store

# client i: (session number, date, phase, PHQ-9 answers, ZZ-check answers)
COURSE = [
    (1, "2026-01-05", "initial", [3, 3, 3, 3, 3, 3, 3, 3, 1, 2], [3, 2, 1, 0]),       # PHQ-9 25 severe; ZZ 6 mid, A 5
    (2, "2026-01-12", "initial", [1, 1, None, 1, 1, 1, 1, 1, 0], [None, 1, 1, 1]),    # PHQ-9 7x9/8=7.875 -> 8 mild; ZZ 3x4/3=4 low, A none
    (8, "2026-03-02", "middle", [0, 0, 0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 3]),           # PHQ-9 1 minimal; ZZ 3 low, flag item 4
]


def names(i: int) -> tuple[str, str, int]:
    return f"ZZCLIENT-{i:04d}", f"Test Person {chr(ord('A') + i)}", 1950 + 7 * i


def record(client: int, session: tuple, instrument: str, answers: list, start: str = "2026-01-05") -> dict:
    client_id, name, year = names(client)
    number, day, phase = session[:3]
    score = ipt_measures.score(instrument, answers)
    return {
        "client_id": client_id, "display_name": name, "birth_year": year,
        "course": {"start_date": start, "planned_sessions": 16, "problem_areas": ["grief", "role-disputes"],
                   "protocol": "ipt-default"},
        "session": {"number": number, "date": day, "phase": phase},
        "administration": {"instrument_id": instrument, "instrument_version": "1", "respondent": "self-report",
                           "source": "interactive", "started_at": f"{day}T10:00:00+00:00",
                           "finished_at": f"{day}T10:{len(answers):02d}:00+00:00"},
        "responses": [(str(n), v, "answered" if v is not None else "skipped") for n, v in enumerate(answers, 1)],
        "score": score.model_dump(mode="json"),
    }


def build_caseload(store, clients: int = 3) -> list[str]:
    """Each client: three sessions, PHQ-9 and ZZ-check at each."""
    records = []
    for i in range(clients):
        for session in COURSE:
            records.append(record(i, session, "phq9", session[3]))
            records.append(record(i, session, "zzcheck", session[4]))
    store.bulk_import(records)
    return [names(i)[0] for i in range(clients)]


@pytest.fixture
def store(engine, needs_bulk, zzcheck):  # caseloads built by bulk import
    with open_store(engine) as s:
        yield s


def run(store, fmt, **kwargs) -> str:
    out = io.StringIO()
    export(store, fmt, out, **kwargs)
    return out.getvalue()


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_long_has_one_row_per_score(store):
    build_caseload(store, 1)
    rows = rows_of(run(store, "csv-long"))
    # per session: PHQ-9 total (1 scale) + ZZ-check total and subscale A (2 scales) = 3 rows; 3 sessions
    assert len(rows) == 9
    phq = [r for r in rows if r["instrument"] == "phq9"]
    assert [(r["session"], r["score"], r["band"]) for r in phq] == [
        ("1", "25", "severe"), ("2", "8", "mild"), ("8", "1", "minimal")]
    assert phq[0]["critical_items"] == "item 9" and phq[1]["critical_items"] == ""
    assert phq[1]["prorated"] == "true" and phq[1]["missing"] == "1" and phq[0]["prorated"] == "false"
    zz = [(r["session"], r["scale"], r["score"], r["band"]) for r in rows if r["instrument"] == "zzcheck"]
    assert zz == [("1", "total", "6", "mid"), ("1", "a", "5", ""), ("2", "total", "4", "low"), ("2", "a", "", ""),
                  ("8", "total", "3", "low"), ("8", "a", "0", "")]
    assert rows[0]["problem_areas"] == "grief;role-disputes" and rows[0]["phase"] == "initial"


def test_csv_long_items_has_one_row_per_item_response(store):
    build_caseload(store, 1)
    rows = rows_of(run(store, "csv-long", items=True))
    # PHQ-9: 10, 9, 9 responses (item 10 only at session 1); ZZ-check: 4 per session
    assert len(rows) == 10 + 9 + 9 + 3 * 4
    first = [r for r in rows if r["instrument"] == "phq9" and r["session"] == "1"]
    assert [r["item"] for r in first] == [str(n) for n in range(1, 11)]  # the questionnaire's order, 10 after 9
    assert all(r["total"] == "25" for r in first)
    skipped = [r for r in rows if r["instrument"] == "phq9" and r["session"] == "2" and r["item"] == "3"]
    assert skipped[0]["status"] == "skipped" and skipped[0]["value"] == ""


def test_csv_wide_has_one_row_per_client_and_session(store):
    ids = build_caseload(store, 2)
    rows = rows_of(run(store, "csv-wide"))
    assert [(r["client_id"], r["session"]) for r in rows] == [(c, s) for c in ids for s in ("1", "2", "8")]
    assert list(rows[0])[-13:] == [
        "phq9_administration", "phq9_status", "phq9_total", "phq9_band", "phq9_prorated", "phq9_critical_items",
        "zzcheck_administration", "zzcheck_status", "zzcheck_total", "zzcheck_band", "zzcheck_a", "zzcheck_prorated",
        "zzcheck_critical_items"]
    assert (rows[0]["phq9_total"], rows[0]["zzcheck_total"], rows[0]["zzcheck_a"]) == ("25", "6", "5")
    assert (rows[1]["phq9_total"], rows[1]["zzcheck_a"], rows[1]["phq9_prorated"]) == ("8", "", "true")
    assert rows[2]["zzcheck_critical_items"] == "item 4"


def test_csv_wide_keeps_a_repeated_instrument_on_its_own_row(store):
    build_caseload(store, 1)
    store.bulk_import([record(0, COURSE[0], "phq9", [0] * 9)])  # PHQ-9 given twice at session 1: 0
    rows = rows_of(run(store, "csv-wide"))
    session1 = [r for r in rows if r["session"] == "1"]
    assert [r["phq9_total"] for r in session1] == ["25", "0"]


def test_csv_wide_marks_an_unscored_administration_and_names_each_one(store):
    """Issue 13 part 4: an unscorable PHQ-9 (three items missing; Kroenke et al. 2010 allow two) was an
    all-empty row, and two rows of one session had nothing to tell them apart."""
    build_caseload(store, 1)
    store.bulk_import([record(0, COURSE[0], "phq9", [1, 1, 1, None, None, None, 1, 1, 1])])
    rows = rows_of(run(store, "csv-wide"))
    session1 = [r for r in rows if r["session"] == "1"]
    assert [(r["phq9_status"], r["phq9_total"]) for r in session1] == [("scored", "25"), ("not scored", "")]
    ids = [r["phq9_administration"] for r in session1]
    stored = [str(row[0]) for row in store._query("SELECT id FROM administrations WHERE instrument_id = 'phq9'"
                                                 " ORDER BY id")]
    assert ids[0] in stored and ids[1] == stored[-1] and ids[0] != ids[1]


def test_csv_wide_column_names_have_no_hyphen(store):
    """`qids-sr16_total` is not an identifier in pandas, R or SQL: `qids_sr16_total` is."""
    build_caseload(store, 1)
    store.bulk_import([record(0, COURSE[0], "qids-sr16", [1] * 16)])
    header = next(csv.reader(io.StringIO(run(store, "csv-wide"))))
    assert "qids_sr16_total" in header and "qids_sr16_critical_items" in header
    assert not [name for name in header if "-" in name or "." in name]


def test_csv_booleans_and_critical_items_read_as_what_they_are(store):
    """true/false (not yes/no); critical items never a bare number that a loader turns into 9.0."""
    build_caseload(store, 1)
    for fmt in ("csv-long", "csv-wide"):
        rows = rows_of(run(store, fmt))
        for row in rows:
            for name, value in row.items():
                if name.endswith("prorated"):
                    assert value in ("true", "false"), (fmt, name, value)
                if name.endswith("critical_items") and value:
                    with pytest.raises(ValueError):
                        float(value)
    items = rows_of(run(store, "csv-long", items=True))
    assert {r["critical_items"] for r in items if r["instrument"] == "phq9" and r["session"] == "1"} == {"item 9"}


def test_every_csv_cell_that_starts_a_formula_is_neutralised(store):
    """Issue 10 part 6 (OWASP CSV injection): = + - @ tab CR at the start of a text cell get a leading quote;
    numbers, negative ones included, stay numbers."""
    from ipt_measures.exchange.cells import cell, read_cell

    hostile = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"]
    for text in hostile + ["'quoted", "''", "it's"]:
        assert read_cell(cell(text)) == text  # the reader undoes the guard exactly
    for text in hostile:
        assert cell(text) == "'" + text
    assert (cell("'quoted"), cell("it's")) == ("''quoted", "it's")
    assert (cell(-5), cell(-2.5), cell(-3.0), cell("grief"), cell(True), cell(None)) == (-5, -2.5, -3, "grief",
                                                                                          "true", "")
    records = []
    for n, name in enumerate(hostile):
        rec = record(n, COURSE[0], "phq9", COURSE[0][3])
        rec["display_name"] = name
        rec["course"]["protocol"] = "@protocol"
        records.append(rec)
    store.bulk_import(records)
    for fmt, kwargs in (("csv-long", {}), ("csv-long", {"items": True}), ("csv-wide", {})):
        text = run(store, fmt, include_identifiers=True, **kwargs)
        for row in csv.reader(io.StringIO(text, newline="")):
            for value in row:
                assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), (fmt, value)
        names = {r["display_name"] for r in rows_of(text)}
        assert names == {"'" + h for h in hostile}


def test_excel_adds_a_utf8_bom_to_csv_only(store):
    build_caseload(store, 1)
    out = io.StringIO()
    export(store, "csv-wide", out, excel=True)
    assert out.getvalue().startswith("\ufeffclient_id,")
    assert not run(store, "csv-wide").startswith("\ufeff")
    with pytest.raises(UsageError, match="--excel"):
        export(store, "fhir", io.StringIO(), excel=True)


def test_json_holds_every_administration_with_answers(store):
    build_caseload(store, 2)
    data = json.loads(run(store, "json"))
    assert data["format"] == "ipt-measures-export" and data["deidentified"] is False
    assert len(data["administrations"]) == 2 * 3 * 2
    first = data["administrations"][0]
    assert first["client"] == {"id": "ZZCLIENT-0000"}  # no name or birth year unless asked
    assert first["score"]["total"]["value"] == 25
    assert first["responses"][8] == {"item_id": "9", "value": 1, "status": "answered"}


def test_client_selection_one_list_or_all(store):
    ids = build_caseload(store, 3)
    assert {r["client_id"] for r in rows_of(run(store, "csv-long", client_ids=[ids[1]]))} == {ids[1]}
    assert {r["client_id"] for r in rows_of(run(store, "csv-long", client_ids=[ids[0], ids[2]]))} == {ids[0], ids[2]}
    assert {r["client_id"] for r in rows_of(run(store, "csv-long"))} == set(ids)
    out = io.StringIO()
    with pytest.raises(NotFound, match="nobody"):
        export(store, "csv-long", out, client_ids=[ids[0], "nobody"])
    assert out.getvalue() == ""  # checked before a byte is written


def test_only_completed_administrations_are_exported(store):
    build_caseload(store, 1)
    session = store._query("SELECT id FROM sessions ORDER BY id LIMIT 1")[0][0]
    store.start_administration(session, "phq9", "1", "self-report")  # left in progress
    assert len(rows_of(run(store, "csv-long", client_ids=["ZZCLIENT-0000"]))) == 9


def test_identifiers_only_when_asked(store):
    build_caseload(store, 1)
    plain = run(store, "csv-long") + run(store, "json") + run(store, "csv-wide")
    assert "Test Person" not in plain and "1950" not in plain
    rows = rows_of(run(store, "csv-long", include_identifiers=True))
    assert (rows[0]["display_name"], rows[0]["birth_year"]) == ("Test Person A", "1950")
    with pytest.raises(UsageError):
        export(store, "json", io.StringIO(), include_identifiers=True, deidentify=object())


def test_empty_export_still_has_a_header(store):
    assert rows_of(run(store, "csv-long")) == []
    assert run(store, "csv-long").startswith("client_id,course_start")
    assert json.loads(run(store, "json"))["administrations"] == []


class _Recorder(io.StringIO):
    """An output stream that notes how many records had been read when the first byte arrived."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.read_at_first_write = None

    def write(self, text):
        if self.read_at_first_write is None and text:
            self.read_at_first_write = self.source.taken
        return super().write(text)


class _Source:
    def __init__(self, records):
        self.records = records
        self.taken = 0

    def __iter__(self):
        for record in self.records:
            self.taken += 1
            yield record


@pytest.mark.parametrize("fmt", ["csv-long", "csv-wide", "json", "fhir"])
def test_writers_stream_rather_than_collect(store, fmt):
    """Memory stays flat: each writer writes before it has read its second record, and never reads ahead."""
    from ipt_measures.exchange.exporting import iter_records
    from ipt_measures.plugins import get_registry

    build_caseload(store, 3)
    source = _Source(list(iter_records(store)))
    out = _Recorder(source)
    get_registry().exporters[fmt].writer(iter(source), out, items=True, instruments=["phq9", "zzcheck"])
    assert source.taken == 18
    assert out.read_at_first_write is not None and out.read_at_first_write <= 1


def test_the_store_query_reads_in_batches(store):
    """The rows query yields its first record before it has read the rest of the caseload."""
    from ipt_measures.exchange.exporting import iter_records

    build_caseload(store, 3)
    rows = iter_records(store, batch=2)
    first = next(rows)
    assert first["client"]["id"] == "ZZCLIENT-0000"
    # the open read transaction (one snapshot for the whole export) ends when the iterator is closed
    assert store._conn.in_transaction
    rows.close()
    assert not store._conn.in_transaction
    assert len(list(iter_records(store, batch=2))) == 18


def test_a_plugin_adds_an_export_format(store):
    class TotalsPlugin:
        @ipt_measures.hookimpl
        def register_exporters(self, register):
            def write(rows, out, items=False):  # a writer may declare only the options it uses
                for r in rows:
                    out.write(f"{r['client']['id']} {r['administration']['instrument_id']} {r['score']['total']['value']:g}\n")

            register("totals", write, description="one line per score", suffix=".txt")

    use_registry(build_registry(TotalsPlugin()))
    build_caseload(store, 1)
    assert run(store, "totals").splitlines()[:2] == ["ZZCLIENT-0000 phq9 25", "ZZCLIENT-0000 zzcheck 6"]


def test_unknown_format_is_one_line_listing_the_formats(store):
    with pytest.raises(UsageError, match=r"unknown export format 'xml' \(available: csv-long, csv-wide, fhir, json"):
        export(store, "xml", io.StringIO())


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def db(engine, needs_bulk, zzcheck):
    path = engine
    with open_store(path) as s:
        build_caseload(s, 2)
    return path


def test_cli_export_to_a_file_is_owner_only(invoke, db, tmp_path):
    target = tmp_path / "out.csv"
    result = invoke("export", "--all", "--format", "csv-wide", "-o", target)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(rows_of(target.read_text())) == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_cli_export_excel_writes_a_bom_that_excel_reads_as_utf8(invoke, db, tmp_path):
    target = tmp_path / "excel.csv"
    result = invoke("export", "--all", "--format", "csv-long", "--excel", "-o", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\xef\xbb\xbfclient_id,")
    assert invoke("export", "--all", "--format", "json", "--excel").exit_code != 0


def test_cli_export_to_stdout_for_listed_clients(invoke, db):
    result = invoke("export", "ZZCLIENT-0001", "--format", "csv-long", "--items")
    assert result.exit_code == 0
    assert {r["client_id"] for r in rows_of(result.stdout)} == {"ZZCLIENT-0001"}


def test_cli_export_errors_are_one_line(invoke, db, tmp_path):
    result = invoke("export", "--all", "--format", "xml")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: unknown export format 'xml' (available: csv-long, csv-wide, fhir, json)"
    assert invoke("export", "--format", "json").exit_code == 2  # neither clients nor --all
    target = tmp_path / "none.csv"
    result = invoke("export", "nobody", "-o", target)
    assert result.exit_code != 0 and "nobody" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists() and list(tmp_path.glob(".*partial")) == []


def test_a_tab_separated_listing_follows_the_csv_cell_rule(invoke, engine):
    """`--fmt tsv` is a table for a spreadsheet: a display name that is a formula is written as text."""
    assert invoke("clients", "add", "zz-tsv", "--name", "=HYPERLINK(\"http://x\")").exit_code == 0
    result = invoke("clients", "list", "--fmt", "tsv")
    assert result.exit_code == 0, result.output
    cells = [c for line in result.stdout.splitlines() for c in line.split("\t")]
    assert "'=HYPERLINK(\"http://x\")" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "=HYPERLINK" in invoke("clients", "list").stdout  # other formats show the name as it is


def test_an_export_stream_closes_when_its_block_is_left(store):
    """The store's export stream is a context manager: leaving the block (here by an error) closes its cursor
    and ends its read transaction at once, not when a garbage collector gets to it."""
    build_caseload(store, 3)
    with pytest.raises(OSError):
        with store.export_rows(batch=2) as batches:
            next(batches)
            assert store._conn.in_transaction
            raise OSError("no space left on device")
    assert not store._conn.in_transaction


def test_an_export_abandoned_part_way_is_closed_with_the_store(store, monkeypatch):
    """A half-read export still referenced (as a traceback references it) is closed by store.close(), and
    finalising it afterwards reports nothing: no "Exception ignored" on a closed pipe or a full disk."""
    import gc
    import sys

    from ipt_measures.exchange.exporting import iter_records

    build_caseload(store, 3)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    rows = iter_records(store, batch=2)
    next(rows)
    assert store._streams
    store.close()
    assert not store._streams
    del rows
    gc.collect()
    assert unraisable == []


def test_export_to_a_pipe_closed_early_prints_no_traceback(tmp_path, new_record, needs_bulk):
    """`ipt export --all | head -1`: the reader goes away mid-export; ipt says nothing of a cursor or a frame."""
    import os
    import subprocess
    import sys

    db = new_record("demo")
    env = {**os.environ, "IPT_DATA_DIR": str(tmp_path / "data")}
    ipt = [sys.executable, "-m", "ipt_measures"]
    subprocess.run([*ipt, "demo", "--clients", "40", "--db", str(db)], check=True, capture_output=True, env=env,
                   timeout=300)
    proc = subprocess.Popen([*ipt, "export", "--all", "--format", "csv-long", "--items", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Exception ignored" not in err and "Traceback" not in err, err
