"""`ipt import`: the long CSV and FHIR round trips, item-by-item validation, rescoring, idempotent re-runs.

Expected totals are hand-worked from the published PHQ-9 rule (sum of items 1-9; Kroenke, Spitzer &
Williams 2001) and from the synthetic ZZ-check definition in conftest.py.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from ipt_measures.errors import UsageError
from ipt_measures.exchange.importing import import_file
from ipt_measures.store import open_store

from test_export import build_caseload

# Every test here stores through `ipt import`, which is bulk import: on PostgreSQL, the COPY path.
pytestmark = pytest.mark.usefixtures("needs_bulk")


def stored_scores(path) -> dict:
    """Every stored administration: where it sits -> (answers, current score), ignoring internal ids."""
    with open_store(path) as s:
        rows = s._query(
            "SELECT co.client_id, co.start_date, co.planned_sessions, co.problem_areas, se.number, se.date, se.phase,"
            " a.instrument_id, a.instrument_version, a.respondent, a.id, sc.data"
            " FROM administrations a JOIN sessions se ON se.id = a.session_id JOIN courses co ON co.id = se.course_id"
            " JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1 WHERE a.status = 'complete'"
        )
        result = {}
        for r in rows:
            answers = sorted((k, v["value"], v["status"]) for k, v in s.responses(r["id"]).items())
            key = tuple(r[k] for k in range(10))
            assert key not in result
            result[key] = (answers, json.loads(r["data"]))
        return result


@pytest.fixture
def source(new_record, needs_bulk, zzcheck):  # built by bulk import
    path = new_record("source")
    with open_store(path) as s:
        build_caseload(s, 3)
    return path


def export_to(invoke, db, tmp_path, *args) -> str:
    target = tmp_path / ("out.json" if "fhir" in args else "out.csv")
    result = invoke("export", "--all", "--db", db, "-o", target, *args)
    assert result.exit_code == 0, result.output
    return target


def test_csv_round_trip_reproduces_every_score(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "csv-long", "--items")
    target = new_record("empty")
    result = invoke("import", exported, "--db", target)
    assert result.exit_code == 0, result.output
    assert "Stored 18 administration(s), skipped 0 already stored, rejected 0." in result.stdout
    before, after = stored_scores(source), stored_scores(target)
    assert len(before) == 18
    assert after == before


def test_fhir_round_trip_reproduces_every_score(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "fhir")
    target = new_record("empty")
    result = invoke("import", exported, "--db", target)
    assert result.exit_code == 0, result.output
    assert stored_scores(target) == stored_scores(source)


def test_running_an_import_again_skips_what_is_stored(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "csv-long", "--items")
    target = new_record("empty")
    invoke("import", exported, "--db", target)
    again = invoke("import", exported, "--db", target)
    assert again.exit_code == 0
    assert "Stored 0 administration(s), skipped 18 already stored" in again.stdout
    assert len(stored_scores(target)) == 18


def test_dry_run_stores_nothing(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "csv-long", "--items")
    target = new_record("empty")
    result = invoke("import", exported, "--db", target, "--dry-run")
    assert result.exit_code == 0
    assert "Dry run: 18 administration(s) valid" in result.stdout
    assert stored_scores(target) == {}


def _rows(path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def _write(path, header, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_each_rejected_row_is_reported_with_its_line_and_nothing_is_stored(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "csv-long", "--items")
    header, rows = _rows(exported)
    # Line numbers count the header as line 1, so rows[i] is on line i + 2.
    assert (rows[1]["instrument"], rows[1]["session"], rows[1]["item"]) == ("phq9", "1", "2")
    rows[1]["value"] = "7"                      # line 3: not a PHQ-9 answer
    assert (rows[10]["instrument"], rows[10]["item"]) == ("zzcheck", "1")
    rows[10]["item"] = "5"                      # line 12: ZZ-check has no item 5
    # PHQ-9 at session 2 (lines 16-24): stated total 8, but change item 1 from 1 to 3 -> 7 + 2 = 9 answered
    # over 8 items, 9 x 9 / 8 = 10.125 -> 10, which disagrees with the stated 8.
    second = [n for n, r in enumerate(rows)
              if r["client_id"] == "ZZCLIENT-0000" and r["instrument"] == "phq9" and r["session"] == "2"]
    assert (second[0] + 2, second[-1] + 2) == (16, 24) and rows[second[0]]["total"] == "8"
    rows[second[0]]["value"] = "3"
    _write(exported, header, rows)
    target = new_record("empty")
    result = invoke("import", exported, "--db", target)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "rejected line 3: phq9 item 2: 7 is not an allowed answer (allowed: 0, 1, 2, 3)" in lines
    assert "rejected line 12: zzcheck has no item '5'" in lines
    assert ("rejected lines 16-24: stated total 8 but the answers score 10 with phq9 version 1; not stored"
            in lines)
    assert "15 administration(s) valid, 3 rejected; nothing was stored." in lines
    assert stored_scores(target) == {}


def test_rows_checked_for_context(source, tmp_path, engine):
    from ipt_measures.exchange.exporting import export

    out = io.StringIO()
    with open_store(source) as s:
        export(s, "csv-long", out, items=True, client_ids=["ZZCLIENT-0000"])
    reader = csv.DictReader(io.StringIO(out.getvalue()))
    header, rows = reader.fieldnames, list(reader)
    rows[0]["phase"] = "ending"                       # line 2
    # Line numbers below are after the move at the end (rows after index 3 move up one line).
    rows[10]["session_date"] = "2026-02-30"           # line 11, first row of ZZ-check at session 1: not a date
    rows[16]["session_date"] = "2026-01-13"           # line 17, inside PHQ-9 at session 2: disagrees with line 15
    rows[25]["item"] = rows[24]["item"]               # line 26: the same item twice
    moved = rows.pop(3)                               # PHQ-9 session 1 item 4 moved to the end: not together
    rows.append(moved)
    path = tmp_path / "bad.csv"
    _write(path, header, rows)
    with open_store(engine) as s:
        report = import_file(s, path)
    reasons = [str(r) for r in report.rejected]
    assert any(r.startswith("line 2: phase 'ending'") for r in reasons)
    assert "line 11: session_date '2026-02-30' is not a date (YYYY-MM-DD)" in reasons
    assert not any(r.startswith("line 12") for r in reasons)  # no echo of a problem already reported
    assert ("line 17: session_date '2026-01-13' differs from line 15 ('2026-01-12') of the same administration"
            in reasons)
    assert any(r.startswith("line 26: item 2 appears twice") for r in reasons)
    assert any(r.startswith("line 41: rows of this administration are not together") for r in reasons)
    assert report.stored == 0


def test_a_file_without_item_rows_is_refused_in_one_line(source, tmp_path, engine):
    from ipt_measures.exchange.exporting import export

    path = tmp_path / "scores.csv"
    with open_store(source) as s, open(path, "w", newline="") as out:
        export(s, "csv-long", out)  # one row per score: no answers to check
    with open_store(engine) as s, pytest.raises(UsageError, match="lacks the column.*item.*--items"):
        import_file(s, path)


def test_unknown_instrument_and_version_are_rejected(tmp_path, zzcheck, engine):
    header = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date", "phase",
              "instrument", "instrument_version", "item", "value", "status", "total"]
    base = dict(client_id="ZZCLIENT-0009", course_start="2026-01-05", planned_sessions="12", problem_areas="grief",
                session="1", session_date="2026-01-05", phase="initial", status="answered", total="")
    rows = [dict(base, instrument="nosuch", instrument_version="", item="1", value="1"),
            dict(base, instrument="phq9", instrument_version="2", item="1", value="1"),
            dict(base, client_id="ZZCLIENT-0010", instrument="zzcheck", instrument_version="", item="1", value="2",
                 planned_sessions="20")]
    path = tmp_path / "x.csv"
    _write(path, header, rows)
    with open_store(engine) as s:
        report = import_file(s, path)
    reasons = [str(r) for r in report.rejected]
    assert reasons[0].startswith("line 2: unknown instrument 'nosuch'")
    assert reasons[1].startswith("line 3: phq9 version '2' is not the registered version '1'")
    assert reasons[2] == ("line 4: no course type is planned for 20 sessions (standard 12-16 weekly, brief 8 weekly, "
                          "maintenance 6-36 monthly)")


def test_a_hand_written_csv_with_a_blank_total_is_scored(tmp_path, zzcheck, engine):
    header = ["client_id", "course_start", "planned_sessions", "problem_areas", "session", "session_date", "phase",
              "instrument", "item", "value"]
    base = dict(client_id="ZZCLIENT-0009", course_start="2026-01-05", planned_sessions="12",
                problem_areas="grief;role-transitions", session="1", session_date="2026-01-05", phase="initial",
                instrument="zzcheck")
    rows = [dict(base, item=str(n), value=str(v)) for n, v in ((1, 3), (2, 3), (3, 2), (4, ""))]
    path = tmp_path / "x.csv"
    _write(path, header, rows)
    with open_store(engine) as s:
        report = import_file(s, path)
        assert report.ok and report.stored == 1
        score = s.current_score(s._query("SELECT id FROM administrations")[0][0])
    # item 4 blank = skipped; 8 over 3 items prorated to 4: 8 x 4 / 3 = 10.67 -> 11, "high" (9-12)
    assert (score["total"]["value"], score["total"]["band"], score["total"]["prorated"]) == (11, "high", True)
    assert score["subscales"][0]["value"] == 6


# -- FHIR from elsewhere ------------------------------------------------------------------------------


def us_core_style_phq9(answer_codes: list[str], total=None) -> dict:
    """A PHQ-9 response shaped like the US Core example: linkIds '/<item LOINC>', LOINC answers, no weights."""
    item_loinc = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
    qr = {
        "resourceType": "QuestionnaireResponse",
        "extension": [{"url": "https://ipt-measures.org/fhir/StructureDefinition/ipt-session", "extension": [
            {"url": "courseStart", "valueDate": "2026-01-05"}, {"url": "plannedSessions", "valueInteger": 12},
            {"url": "problemArea", "valueCode": "grief"}, {"url": "sessionNumber", "valueInteger": 1},
            {"url": "sessionDate", "valueDate": "2026-01-05"}, {"url": "phase", "valueCode": "initial"}]}],
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": {"reference": "Patient/ZZCLIENT-0042"},
        "authored": "2026-01-05T09:30:00Z",
        "item": [{"linkId": f"/{code}", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": answer}}]}
                 for code, answer in zip(item_loinc, answer_codes)],
    }
    entries = [{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "resource": qr}]
    if total is not None:
        entries.append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
            "valueQuantity": {"value": total},
            "derivedFrom": [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}]}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# LA6568-5 = 0, LA6569-3 = 1, LA6570-1 = 2, LA6571-9 = 3 (LOINC answer list LL358-3)
ANSWERS = ["LA6571-9", "LA6570-1", "LA6569-3", "LA6568-5", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6568-5"]
# 3 + 2 + 1 + 0 + 0 + 1 + 2 + 3 + 0 = 12 -> moderate (10-14)


def test_a_us_core_style_response_is_mapped_by_loinc(tmp_path, engine):
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(us_core_style_phq9(ANSWERS, total=12)))
    with open_store(engine) as s:
        report = import_file(s, path)
        assert report.ok and report.stored == 1
        admin = s._query("SELECT id FROM administrations")[0][0]
        score = s.current_score(admin)
        assert s.responses(admin)["1"]["value"] == 3
    assert (score["total"]["value"], score["total"]["band"]) == (12, "moderate")


def test_a_fhir_total_that_disagrees_is_rejected(tmp_path, engine):
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(us_core_style_phq9(ANSWERS, total=14)))
    with open_store(engine) as s:
        report = import_file(s, path)
        assert s._query("SELECT count(*) FROM administrations")[0][0] == 0
    assert [str(r) for r in report.rejected] == [
        "entry 1: stated total 14 but the answers score 12 with phq9 version 1; not stored"]


def test_fhir_answer_problems_are_reported_per_item(tmp_path, engine):
    data = us_core_style_phq9(ANSWERS)
    qr = data["entry"][0]["resource"]
    qr["item"][0]["answer"][0]["valueCoding"]["code"] = "LA9999-9"
    qr["item"][1]["answer"][0]["valueCoding"]["extension"] = [
        {"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": 1}]  # LA6570-1 means 2
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(data))
    with open_store(engine) as s:
        report = import_file(s, path)
    assert [str(r) for r in report.rejected] == [
        "entry 1 item '/44250-9': item 1: answer http://loinc.org|LA9999-9 is not one of this item's coded answers "
        "and carries no ordinalValue or itemWeight",
        "entry 1 item '/44255-8': item 2: the answer disagrees with itself (itemWeight says 1, LOINC answer LA6570-1 "
        "says 2)",
    ]


def test_a_response_without_the_session_needs_the_client_in_the_record(tmp_path, engine):
    data = us_core_style_phq9(ANSWERS)
    del data["entry"][0]["resource"]["extension"]
    data["entry"][0]["resource"]["status"] = "in-progress"
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(data))
    with open_store(engine) as s:
        report = import_file(s, path)
    assert [str(r) for r in report.rejected] == ["entry 1: status 'in-progress': only completed responses are imported"]
    data["entry"][0]["resource"]["status"] = "completed"
    path.write_text(json.dumps(data))
    with open_store(engine) as s:
        report = import_file(s, path)
    assert [str(r) for r in report.rejected] == [
        "entry 1: client 'ZZCLIENT-0042' is not in the record: a response without course and session is filed into "
        "a stored course (add the client and the course first)"]


def test_progress_bar_on_request(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "csv-long", "--items")
    result = invoke("import", exported, "--db", new_record("empty"), "--progress")
    assert result.exit_code == 0
    assert "Checking" in result.stderr and "Storing" in result.stderr
    target = new_record("other")
    quiet = invoke("import", exported, "--db", target)
    from conftest import on_server

    if on_server(target):  # a server's database is made by its admin beforehand: nothing to say
        assert quiet.stderr == ""
    else:
        assert quiet.stderr.startswith("Created the database")  # said once
        assert quiet.stderr.count("\n") == 1
    assert "Checking" not in quiet.stderr  # not a terminal: no bar unless asked


def test_import_report_as_json(invoke, source, tmp_path, new_record):
    exported = export_to(invoke, source, tmp_path, "--format", "fhir")
    result = invoke("import", exported, "--db", new_record("empty"), "--json")
    data = json.loads(result.stdout)
    assert (data["stored"], data["rejected"], data["format"]) == (18, [], "fhir")
