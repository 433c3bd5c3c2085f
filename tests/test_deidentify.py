"""De-identified exports: no name, birth year or original id anywhere; stable keyed pseudonyms; date shifts.

Synthetic caseload only (ids ZZCLIENT-nnnn, names "Test Person A"..., birth years 1950 + 7i).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import stat
from datetime import date

import pytest

from ipt_measures.deidentify import Deidentifier, create_key_file, read_key_file, shift
from ipt_measures.errors import UsageError
from ipt_measures.exchange.exporting import export
from ipt_measures.store import open_store

from test_export import build_caseload, names

KEY = bytes(range(32))  # a fixed key, so every run of these tests sees the same pseudonyms
CLIENTS = 6


@pytest.fixture
def db(engine, zzcheck):
    path = engine
    with open_store(path) as s:
        build_caseload(s, CLIENTS)
        # a course's free-text end reason (here naming the client) must not leak either
        course = s.courses(names(0)[0])[0]
        s.end_course(course["id"], "2026-04-01", f"completed; {names(0)[1]} moved away")
    return path


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "export.key"
    path.write_text(KEY.hex() + "\n")
    path.chmod(0o600)
    return path


def leaks(text: str) -> list[str]:
    """Every client name, birth year and original id found in the text."""
    found = []
    for i in range(CLIENTS):
        client_id, name, year = names(i)
        if client_id in text:
            found.append(client_id)
        if name in text:
            found.append(name)
        # A birth year as a value of its own (not four hex digits inside a pseudonym or a uuid).
        if re.search(rf"(?<![0-9A-Za-z\-]){year}(?![0-9A-Za-z\-])", text):
            found.append(str(year))
    return found


def test_the_search_finds_what_it_looks_for(db, invoke):
    """Without --deidentify (and with identifiers asked for) the same search finds everything."""
    result = invoke("export", "--all", "--format", "csv-long", "--with-identifiers")
    assert result.exit_code == 0
    assert len(leaks(result.stdout)) == 3 * CLIENTS


@pytest.mark.parametrize("fmt", ["csv-long", "csv-long --items", "csv-wide", "json", "fhir"])
@pytest.mark.parametrize("shift_dates", [False, True])
def test_deidentified_output_has_no_name_birth_year_or_original_id(db, invoke, key_file, fmt, shift_dates):
    args = ["export", "--all", "--format", *fmt.split(), "--deidentify", "--key-file", key_file]
    result = invoke(*args, *(["--shift-dates"] if shift_dates else []))
    assert result.exit_code == 0, result.output
    assert len(result.stdout) > 1000
    assert leaks(result.stdout) == []
    assert "moved away" not in result.stdout


def test_pseudonyms_are_keyed_hmacs_and_stable(db, invoke, key_file, tmp_path):
    first = invoke("export", "--all", "--format", "csv-long", "--deidentify", "--key-file", key_file).stdout
    second = invoke("export", "--all", "--format", "csv-long", "--deidentify", "--key-file", key_file).stdout
    assert first == second
    # HMAC-SHA256 of "client:<id>" with the key, first 20 hex digits (worked with the standard library)
    expected = {"p-" + hmac.new(KEY, f"client:{names(i)[0]}".encode(), hashlib.sha256).hexdigest()[:20]
                for i in range(CLIENTS)}
    ids = [r["client_id"] for r in csv.DictReader(io.StringIO(first))]
    assert set(ids) == expected
    # rows come in pseudonym order, so their order says nothing about the original ids
    assert ids == sorted(ids)
    other_key = tmp_path / "other.key"
    created = invoke("export", "--all", "--format", "csv-long", "--deidentify", "--key-file", other_key)
    assert {r["client_id"] for r in csv.DictReader(io.StringIO(created.stdout))}.isdisjoint(expected)


def test_shifted_dates_keep_intervals_within_a_client(db, key_file):
    deid = Deidentifier(read_key_file(key_file), shift_dates=True)
    out = io.StringIO()
    with open_store(db) as s:
        export(s, "csv-wide", out, deidentify=deid)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    shifts = {}
    for i in range(CLIENTS):
        pseudonym = deid.pseudonym(names(i)[0])
        mine = [r for r in rows if r["client_id"] == pseudonym]
        dates = [date.fromisoformat(r["session_date"]) for r in mine]
        # the synthetic sessions were on 2026-01-05, 2026-01-12 and 2026-03-02: 7 and 49 days apart
        assert [(b - a).days for a, b in zip(dates, dates[1:])] == [7, 49]
        days = (dates[0] - date(2026, 1, 5)).days
        assert days == deid.shift_days(names(i)[0]) and days != 0 and abs(days) <= 365
        assert mine[0]["course_start"] == mine[0]["session_date"]  # the course started at session 1
        shifts[pseudonym] = days
    assert len(set(shifts.values())) > 1  # per client, not one shift for everyone


def test_shift_keeps_the_form_of_a_date():
    assert shift("2026-01-05", 30) == "2026-02-04"
    assert shift("2026-01-05T10:05:00+00:00", -5) == "2025-12-31T10:05:00+00:00"
    assert shift("2026-01-05T10:05:00Z", 1) == "2026-01-06T10:05:00Z"
    assert shift(None, 3) is None


def test_key_file_is_created_owner_only_and_never_overwritten(tmp_path, db, invoke):
    path = tmp_path / "new.key"
    result = invoke("export", "--all", "--deidentify", "--key-file", path)
    assert result.exit_code == 0 and "Created the key file" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(read_key_file(path)) == 32
    with pytest.raises(UsageError, match="already exists"):
        create_key_file(path)


def test_a_key_others_can_read_is_refused(tmp_path):
    path = tmp_path / "open.key"
    path.write_text(KEY.hex())
    path.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        read_key_file(path)


def test_deidentify_options_are_checked(db, invoke, key_file):
    assert invoke("export", "--all", "--deidentify").exit_code == 2  # no key file
    assert invoke("export", "--all", "--shift-dates").exit_code == 2  # without --deidentify
    result = invoke("export", "--all", "--deidentify", "--key-file", key_file, "--with-identifiers")
    assert result.exit_code == 2 and "cannot include names" in result.stderr


def test_a_deidentified_export_imports_under_its_pseudonyms(db, invoke, key_file, tmp_path, new_record):
    target = tmp_path / "research.csv"
    invoke("export", "--all", "--format", "csv-long", "--items", "--deidentify", "--key-file", key_file,
           "--shift-dates", "-o", target)
    research = new_record("research")
    result = invoke("import", target, "--db", research)
    assert result.exit_code == 0, result.output
    with open_store(research) as s:
        clients = s.list_clients()
    assert len(clients) == CLIENTS
    assert all(c["id"].startswith("p-") and c["display_name"] is None and c["birth_year"] is None for c in clients)


def test_fhir_urls_come_from_the_pseudonym(db, key_file):
    """The uuids must not be a plain hash of the original id (guessable ids would be recovered)."""
    from ipt_measures.exchange.fhir import full_url

    deid = Deidentifier(read_key_file(key_file))
    out = io.StringIO()
    with open_store(db) as s:
        export(s, "fhir", out, deidentify=deid)
        first_admin = s._query("SELECT min(id) FROM administrations")[0][0]
    text = out.getvalue()
    plain = full_url(names(0)[0], first_admin, "QuestionnaireResponse")
    assert plain not in text
    from ipt_measures.exchange.fhir import PSEUDONYM_SYSTEM, patient_url

    assert patient_url(names(0)[0]) not in text
    patient = json.loads(text)["entry"][0]
    assert patient["resource"]["resourceType"] == "Patient"
    pseudonyms = {deid.pseudonym(names(i)[0]) for i in range(CLIENTS)}
    (identifier,) = patient["resource"]["identifier"]
    assert identifier["system"] == PSEUDONYM_SYSTEM and identifier["value"] in pseudonyms
    assert set(patient["resource"]) == {"resourceType", "identifier"}  # nothing else about the client
    assert json.loads(text)["entry"][1]["resource"]["subject"]["reference"] == patient["fullUrl"]
