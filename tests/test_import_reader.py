"""The long-CSV reader on large files: a bad row late in the file, an administration split across
non-adjacent rows, and answers written untidily are each handled as on the first rows of a small file.

The reader takes the common row (same administration, a whole-number answer the item allows) in a fast
path and checks everything else the long way; these tests put every other kind of row deep inside a
file of 1,200 administrations, so both paths are exercised far from the start. PHQ-9 answers are 0-3 on
each of nine items (Kroenke, Spitzer & Williams 2001); the totals stated below are their sums.
"""

from __future__ import annotations

import csv

import pytest

from ipt_measures.exchange import Rejection, csv_long
from ipt_measures.exchange.importing import import_file
from ipt_measures.store import open_store

HEADER = csv_long.columns(items=True)
CLIENTS, SESSIONS = 100, 12  # 1,200 PHQ-9 administrations, 10,800 rows
ANSWERS = [1, 2, 0, 3, 1, 0, 2, 1, 0]  # total 10


def _rows() -> list[dict]:
    rows = []
    for c in range(CLIENTS):
        for s in range(1, SESSIONS + 1):
            day = f"2025-{1 + (s - 1) // 4:02d}-{1 + 7 * ((s - 1) % 4):02d}"
            phase = "initial" if s <= 3 else "middle" if s <= 9 else "termination"
            for item, value in enumerate(ANSWERS, 1):
                rows.append({
                    "client_id": f"ZZCLIENT-{c:04d}", "course_start": "2025-01-01", "planned_sessions": "12",
                    "problem_areas": "grief", "protocol": "ipt-default", "course_end": "2025-03-22",
                    "course_type": "standard", "session": str(s), "session_date": day, "phase": phase,
                    "administration": "1", "instrument": "phq9", "instrument_version": "1",
                    "respondent": "self-report", "completed_at": f"{day}T10:00:00+00:00", "item": str(item),
                    "value": str(value), "status": "answered", "total": "10", "band": "moderate",
                    "critical_items": "", "scorer": "generic/1"})
    return rows


def _line(rows: list[dict], client: int, session: int, item: int) -> int:
    """The file line of a row (the header is line 1)."""
    return 2 + next(n for n, r in enumerate(rows) if (r["client_id"], r["session"], r["item"])
                    == (f"ZZCLIENT-{client:04d}", str(session), str(item)))


def _write(path, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def _read(tmp_path, rows) -> tuple[list[dict], list[str]]:
    path = tmp_path / "big.csv"
    _write(path, rows)
    records, rejected = [], []
    for item in csv_long.read(path):
        if isinstance(item, dict):
            records.append(item)
        else:
            rejected += [str(r) for r in item]
    return records, rejected


def test_a_clean_large_file_reads_every_administration_whole(tmp_path, zzcheck):
    records, rejected = _read(tmp_path, _rows())
    assert rejected == []
    assert len(records) == CLIENTS * SESSIONS
    last = records[-1]
    assert last["where"] == f"lines {2 + 9 * (CLIENTS * SESSIONS - 1)}-{1 + 9 * CLIENTS * SESSIONS}"
    assert last["client_id"] == f"ZZCLIENT-{CLIENTS - 1:04d}"
    assert last["session"] == {"number": SESSIONS, "date": "2025-03-22", "phase": "termination"}
    assert last["course"]["end_date"] == "2025-03-22" and last["course"]["planned_sessions"] == 12
    assert last["responses"] == [(str(i), v, "answered") for i, v in enumerate(ANSWERS, 1)]
    assert last["administration"]["started_at"] == "2025-03-22T10:00:00+00:00"
    # Records of one session do not share their course or session: each may be changed on its own.
    assert records[0]["course"] is not records[1]["course"] and records[0]["session"] is not records[1]["session"]


def test_bad_rows_late_in_a_large_file_are_refused_with_their_line_and_message(tmp_path, zzcheck):
    rows = _rows()
    late = CLIENTS - 3  # the last clients: rows near the end of the file
    bad_value = _line(rows, late, 10, 2)
    rows[bad_value - 2]["value"] = "7"
    differs = _line(rows, late, 11, 6)
    rows[differs - 2]["session_date"] = "2025-03-16"
    twice = _line(rows, late + 1, 4, 8)
    rows[twice - 2]["item"] = "7"
    first = _line(rows, late + 2, 12, 1)  # the first row of an administration: its context is bad
    rows[first - 2]["phase"] = "ending"
    for n in range(first - 1, first + 7):  # ... and the rows after it disagree with it: said once, not echoed
        rows[n]["session_date"] = "2025-03-23"
    records, rejected = _read(tmp_path, rows)
    assert rejected == [
        f"line {bad_value}: phq9 item 2: 7 is not an allowed answer (allowed: 0, 1, 2, 3)",
        f"line {differs}: session_date '2025-03-16' differs from line {differs - 5} ('2025-03-15') of the same "
        "administration",
        f"line {twice}: item 7 appears twice in the same administration",
        f"line {first}: phase 'ending' is not one of initial, middle, termination",
    ]
    assert len(records) == CLIENTS * SESSIONS - 4


def test_an_administration_split_across_the_file_is_refused_where_its_rows_come_back(tmp_path, zzcheck):
    rows = _rows()
    moved = _line(rows, 5, 3, 4)
    rows.append(rows.pop(moved - 2))  # an early administration's item 4, moved to the last line
    records, rejected = _read(tmp_path, rows)
    last = 1 + len(rows)
    assert rejected == [f"line {last}: rows of this administration are not together: an earlier run of rows had "
                        "the same client, course, session, instrument and administration"]
    # The early run is read as it stands (eight answers); the import refuses the file as a whole.
    early = next(r for r in records if r["client_id"] == "ZZCLIENT-0005" and r["session"]["number"] == 3)
    assert [i for i, _, _ in early["responses"]] == ["1", "2", "3", "5", "6", "7", "8", "9"]
    assert early["where"] == f"lines {moved - 3}-{moved + 4}"


def test_untidy_answers_late_in_the_file_read_as_their_tidy_form(tmp_path, zzcheck):
    rows = _rows()
    at = _line(rows, CLIENTS - 1, SESSIONS, 3) - 2
    rows[at].update(value=" 0 ", status=" answered ", item=" 3")
    rows[at + 1].update(value="1.0", status="")  # item 4: 1.0 is the whole number 1... (answered 3 before)
    rows[at + 2].update(value="", status="skipped")  # item 5 skipped
    records, rejected = _read(tmp_path, rows)
    assert rejected == []
    assert records[-1]["responses"][2:5] == [("3", 0, "answered"), ("4", 1, "answered"), ("5", None, "skipped")]


def test_a_value_in_other_digits_is_refused_in_one_line(tmp_path, zzcheck):
    # "²" counts as a digit to str.isdigit() but is not a number int() reads: refused, never a crash.
    rows = _rows()
    at = _line(rows, CLIENTS - 1, SESSIONS, 2)
    rows[at - 2]["value"] = "²"
    records, rejected = _read(tmp_path, rows)
    assert rejected == [f"line {at}: item 2: value '²' is not a whole number"]


@pytest.mark.usefixtures("needs_bulk")
def test_a_late_bad_row_stores_nothing_and_exits_with_its_line(invoke, tmp_path, new_record, zzcheck):
    rows = _rows()
    at = _line(rows, CLIENTS - 1, SESSIONS, 9)  # the very last row
    rows[at - 2]["value"] = "4"
    path = tmp_path / "big.csv"
    _write(path, rows)
    target = new_record("empty")
    result = invoke("import", path, "--db", target)
    assert result.exit_code == 1
    assert f"rejected line {at}: phq9 item 9: 4 is not an allowed answer (allowed: 0, 1, 2, 3)" in result.stdout
    assert f"{CLIENTS * SESSIONS - 1} administration(s) valid, 1 rejected; nothing was stored." in result.stdout
    with open_store(target) as s:
        assert s.list_clients() == []
    rows[at - 2]["value"] = "3"  # corrected (the total 10 stated is now 13): refused for its total
    _write(path, rows)
    report = None
    with open_store(target) as s:
        report = import_file(s, path)
    assert [str(r) for r in report.rejected] == [
        f"lines {at - 8}-{at}: stated total 10 but the answers score 13 with phq9 version 1; not stored"]
    assert report.stored == 0 and isinstance(report.rejected[0], Rejection)


# -- the line shortcut and the csv module read the same -------------------------------------------------------

# A later row of an administration that is its first row's text but for the answer cells is read only for those
# cells; any other line is read whole. Whatever a file holds, both ways must give the same records and the
# same rejections, with the same line numbers.
CELLS = ["", "0", "1", "3", " 2", "2 ", "²", "٣", "1.0", "1e0", "x", "-1", "4", '"2"', '"1,2"', "a\nb", "=1", "'=1",
         "\0", "answered", "skipped", "declined", " answered", "10", "9", "99", "12", "2025-01-01", "2024-12-31",
         "grief", "grief;bogus", "gad7", "phq9", "initial", "termination"]
COLUMNS_CHANGED = ["item", "value", "status", "session_date", "total", "band", "scorer", "phase", "client_id",
                   "respondent", "completed_at", "session", "planned_sessions", "course_start", "problem_areas",
                   "instrument", "instrument_version"]


def _small_file(mutations, ending: str, drop_status: bool) -> str:
    header = [c for c in HEADER if not (drop_status and c == "status")]
    rows = [dict(r) for r in _rows()[: 9 * 6]]  # six administrations: two sessions of three clients
    lines: list[str] = []
    for n, row in enumerate(rows):
        for index, column, cell, extra in mutations:
            if index == n:
                if column == "line":
                    lines.append(cell)  # a line of its own: blank, or anything
                    continue
                row[column] = cell
                if extra:
                    row["scorer"] = row["scorer"] + ',"more"'  # a quote beyond the answer cells
        text = ",".join(('"' + str(row[c]).replace('"', '""') + '"') if any(ch in str(row[c]) for ch in ',"\n')
                        else str(row[c]) for c in header)
        lines.append(text)
    return ",".join(header) + ending + ending.join(lines) + ending


def _outcome(path) -> list:
    try:
        return list(csv_long.read(path))
    except Exception as exc:  # the same refusal either way, whatever it is
        return [type(exc).__name__, str(exc)]


def test_every_line_reads_the_same_with_or_without_the_shortcut(tmp_path, zzcheck, monkeypatch):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    mutation = st.tuples(st.integers(0, 53), st.sampled_from(COLUMNS_CHANGED + ["line"]), st.sampled_from(CELLS),
                         st.booleans())

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(mutation, max_size=6), st.sampled_from(["\r\n", "\n"]), st.booleans())
    def check(mutations, ending, drop_status):
        path = tmp_path / "m.csv"
        path.write_bytes(_small_file(mutations, ending, drop_status).encode())
        shortcut = _outcome(path)
        with monkeypatch.context() as patched:
            patched.setattr(csv_long._Layout, "frame", lambda self, line, row: None)
            whole = _outcome(path)
        assert shortcut == whole

    check()


def test_the_shortcut_is_taken_for_an_exported_file(tmp_path, zzcheck, monkeypatch):
    # Not a timing: the rows after each administration's first are read through the shortcut, not split whole.
    path = tmp_path / "big.csv"
    _write(path, _rows()[:900])
    split = []
    real = csv_long._cells
    monkeypatch.setattr(csv_long, "_cells", lambda *args: split.append(args[4]) or real(*args))
    records = list(csv_long.read(path))
    assert len(records) == 100
    assert split == [1] + [2 + 9 * n for n in range(100)]  # the header and each administration's first row
