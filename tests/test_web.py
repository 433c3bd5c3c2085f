"""The self-completion page over plain HTTP: links, the engine behind each press, and the security rules."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import Raw, on_server, server_dump
from webclient import Page, running_server, two_clients

from ipt_measures import handover as service
from ipt_measures import record
from ipt_measures.errors import UsageError
from ipt_measures.store import open_store

PHQ9 = [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]  # item 10 (difficulty) is unscored
GAD7 = [1, 1, 2, 0, 1, 0, 1, 0]


@pytest.fixture
def db(engine):
    return two_clients(engine)


def link(db, client="c001", forms=("phq9",), expires="30m"):
    with open_store(db) as store:
        token, made = service.create(store, client, list(forms), expires=expires)
    return token, made


def complete(page, values):
    for v in values:
        page.answer(v)


def test_http_only_script_completes_phq9_and_ipt_progress_shows_the_score(db, invoke):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        assert page.status == 200 and page.position() == ("PHQ-9", 1, 10)
        assert "/t/" not in page.headers.get("Location", "")  # redirected to an id-free path
        complete(page, PHQ9)
        assert "Thank you, please hand the device back" in page.body
    result = invoke("progress", "c001", "--db", db)
    assert result.exit_code == 0, result.output
    assert re.search(r"^1 +\S+ +initial +8 mild", result.output, re.M)  # 1+2+0+1+1+0+2+1+0 = 8
    with open_store(db) as store:
        admin = store.get_administration(made["administrations"][0])
        assert admin["source"] == "page" and admin["status"] == "complete"


def test_phq9_then_gad7_back_and_change_and_a_reload_resumes(db):
    token, made = link(db, forms=("phq9", "gad7"))
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        complete(page, PHQ9[:3])
        assert page.position() == ("PHQ-9", 4, 10)
        page.press("back")
        assert page.position() == ("PHQ-9", 3, 10) and 'value="0" aria-current="true"' in page.body
        page.answer(3)  # changed from 0
        assert page.position() == ("PHQ-9", 4, 10)
        page.get("/form")  # a reload (or a closed tab, opened again) resumes at the next unanswered item
        assert page.position() == ("PHQ-9", 4, 10)
        again = Page(base)
        again.jar = page.jar
        again.opener = page.opener
        again.get(f"/t/{token}")  # the same browser opening the link again
        assert again.position() == ("PHQ-9", 4, 10)
        complete(page, PHQ9[3:])
        assert page.position() == ("GAD-7", 1, 8)
        assert "Back" not in page.body  # a finished, scored form is not reopened from the page
        complete(page, GAD7)
        assert "Thank you, please hand the device back" in page.body
    with open_store(db) as store:
        phq = store.responses(made["administrations"][0])
        assert phq["3"]["value"] == 3 and len(phq) == 10
        assert len(store.responses(made["administrations"][1])) == 8
        assert store.current_score(made["administrations"][0])["total"]["value"] == 11


def test_pages_carry_no_score_band_alert_or_identifier(db):
    token, made = link(db, forms=("phq9", "gad7"))
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        complete(page, [3] * 10 + [3] * 8)  # severe, with item 9 answered "nearly every day"
        page.get("/form")
    with open_store(db) as store:
        score = store.current_score(made["administrations"][0])
    received = re.sub(r'name="csrf" value="[0-9a-f]+"', "", "\n".join(page.seen).lower())  # random hex
    assert score["total"]["value"] == 27
    for word in ("c001", "score", "severe", "critical", "alert", "risk", "27", "clinician", "session 1",
                 "administration", "course"):
        assert not re.search(rf"\b{word}\b", received), word


def test_every_response_has_the_protective_headers(db):
    token, _ = link(db)
    with running_server(db) as base:
        page = Page(base)
        for path in (f"/t/{token}", "/form", "/style.css", "/nothing-here", "/t/wrong"):
            page.get(path)
            h = {k.lower(): v for k, v in page.headers.items()}
            assert h["cache-control"] == "no-store"
            assert h["x-frame-options"] == "DENY" and h["referrer-policy"] == "no-referrer"
            assert "default-src 'none'" in h["content-security-policy"]
            assert "frame-ancestors 'none'" in h["content-security-policy"]
        cookie = next(iter(page.jar))
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.value not in (token,)


def test_the_token_is_random_and_stored_only_as_its_hash(db):
    token, made = link(db)
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits (>= 128 asked)
    if on_server(db):  # every row of every table
        raw = server_dump(db).encode()
    else:  # the file's bytes, and its WAL's
        db = Path(db)
        raw = (db.read_bytes() + (db.parent / (db.name + "-wal")).read_bytes()
               if (db.parent / (db.name + "-wal")).exists() else db.read_bytes())
    assert made["token_hash"].encode() in raw  # the search finds what is there
    assert token.encode() not in raw
    assert made["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_a_link_works_in_one_browser_only(db):
    token, made = link(db)
    with running_server(db) as base:
        first = Page(base).get(f"/t/{token}")
        assert first.position() == ("PHQ-9", 1, 10)
        second = Page(base).get(f"/t/{token}")
        assert second.status == 404 and second.position() is None
        assert "cannot be used" in second.body


def test_a_finished_link_is_refused_and_back_after_the_end_shows_nothing(db):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        old = page.hidden()
        complete(page, PHQ9)
        page.post({**old, "answer": "3"})  # the browser's Back to an old item, pressed again
        assert "Thank you, please hand the device back" in page.body and page.position() is None
        page.get("/form")
        assert page.position() is None
        assert Page(base).get(f"/t/{token}").status == 404
        assert page.get(f"/t/{token}").status == 404  # even in the browser that finished it
    with open_store(db) as store:
        assert store.responses(made["administrations"][0])["1"]["value"] == PHQ9[0]
        assert store.get_handover(made["id"])["ended_reason"] == "finished"


def test_an_expired_link_is_refused(db):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        page.answer(1)
        with Raw(db) as con:  # the clock moves on: the link's time is up
            con.execute("UPDATE handovers SET expires_at = '2000-01-01T00:00:00+00:00'")
        page.answer(2)
        assert page.position() is None and "hand the device back" in page.body
        assert Page(base).get(f"/t/{token}").status == 404
    with open_store(db) as store:
        assert len(store.responses(made["administrations"][0])) == 1  # the answer after expiry was not stored
        assert store.get_handover(made["id"])["ended_reason"] == "expired"


def test_a_link_for_one_client_never_reaches_another_clients_forms(db):
    token_a, made_a = link(db, "c001")
    token_b, made_b = link(db, "c002")
    with running_server(db) as base:
        a = Page(base).get(f"/t/{token_a}")
        b = Page(base).get(f"/t/{token_b}")
        b_fields = b.hidden()
        a.post({**b_fields, "csrf": a.field("csrf"), "answer": "3"})  # a's session, b's form fields
        a.post({**a.hidden(), "csrf": b_fields["csrf"], "answer": "3"})  # b's csrf in a's session
        assert a.status == 403
    with open_store(db) as store:
        assert store.responses(made_b["administrations"][0]) == {}
        assert set(store.responses(made_a["administrations"][0])) <= {"1"}


def test_every_press_needs_the_csrf_token(db):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        page.post({**page.hidden(), "csrf": "0" * 64, "answer": "2"})
        assert page.status == 403
        page.post({"form": "0", "item": "1", "answer": "2"})
        assert page.status == 403
    with open_store(db) as store:
        assert store.responses(made["administrations"][0]) == {}


def test_a_second_tap_on_the_same_item_stores_nothing_twice(db):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        fields = page.hidden()
        page.post({**fields, "answer": "2"})
        page.post({**fields, "answer": "1"})  # the same screen submitted again: stale, ignored
        assert page.position() == ("PHQ-9", 2, 10)
        page.post({**page.hidden(), "answer": "9"})  # not an answer to this item: shown again
        assert page.position() == ("PHQ-9", 2, 10)
    with open_store(db) as store:
        assert {k: v["value"] for k, v in store.responses(made["administrations"][0]).items()} == {"1": 2}


def test_skip_follows_the_missing_item_rule_and_decline_is_recorded(db):
    token, made = link(db, forms=("gad7",))
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        assert "Skip this question" in page.body  # GAD-7 allows some missing items
        page.press("skip")
        page.press("decline")
        assert "Skip this question" not in page.body  # a third missing answer would make it unscorable
        page.press("skip")  # forced by hand: refused, the item stays
        assert page.position() == ("GAD-7", 3, 8)
    with open_store(db) as store:
        stored = store.responses(made["administrations"][0])
        assert stored["1"]["status"] == "skipped" and stored["2"]["status"] == "declined" and len(stored) == 2


def test_guessing_links_is_rate_limited(db):
    token, _ = link(db)
    with running_server(db) as base:
        page = Page(base)
        for n in range(10):
            assert page.get(f"/t/guess{n}").status == 404
        assert page.get(f"/t/{token}").status == 429  # even the right one, from that address, for a while


def test_an_instrument_without_shipped_text_cannot_be_handed_over(db, invoke):
    result = invoke("handover", "c001", "epds", "--json", "--db", db, "--port", "1")
    assert result.exit_code == 2 and "give it on paper" in result.output
    assert "Traceback" not in result.output
    result = invoke("handover", "c001", "hrsd17", "--json", "--db", db, "--port", "1")
    assert result.exit_code == 2 and "clinician-rated" in result.output
    with open_store(db) as store:
        assert record.unfinished(store, "c001") == []  # nothing started for a refused handover


def test_handover_json_prints_the_url(db, invoke):
    result = invoke("handover", "c001", "phq9", "--json", "--db", db, "--port", "1")
    assert result.exit_code == 0, result.output
    url = re.search(r'"url": "([^"]+)"', result.output).group(1)
    assert re.fullmatch(r"http://127\.0\.0\.1:1/t/[A-Za-z0-9_-]{43}", url)


def test_durations():
    assert service.parse_duration("30m").total_seconds() == 1800
    assert service.parse_duration("1h30m").total_seconds() == 5400
    for bad in ("", "soon", "0m", "13h", "30"):
        with pytest.raises(UsageError):
            service.parse_duration(bad)


def test_tls_is_required_beyond_loopback(tmp_path):
    from ipt_measures.web import server

    assert server.tls_files("127.0.0.1", None, None) == (None, None, False)
    cert, key, generated = server.tls_files("0.0.0.0", None, None, tls_dir=tmp_path)
    assert generated and (tmp_path / "ipt-serve-key.pem").stat().st_mode & 0o077 == 0
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", server.fingerprint(cert))
    assert server.tls_files("0.0.0.0", None, None, tls_dir=tmp_path) == (cert, key, False)  # reused
    with pytest.raises(UsageError):
        server.tls_files("0.0.0.0", cert, None)


def test_the_page_over_tls(db, tmp_path):
    import ssl
    import urllib.request

    from ipt_measures.web import server

    cert, key, _ = server.tls_files("0.0.0.0", None, None, tls_dir=tmp_path)
    token, _ = link(db)
    with running_server(db, cert=cert, key=key) as base:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False  # the certificate names this machine; the test reaches it as 127.0.0.1
        with urllib.request.urlopen(f"{base}/healthz", context=context) as r:
            assert r.headers["Strict-Transport-Security"]
        page = Page(base)
        page.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(page.jar),
                                                  urllib.request.HTTPSHandler(context=context))
        page.get(f"/t/{token}")
        assert page.position() == ("PHQ-9", 1, 10)
        assert "secure" in page.headers.get("set-cookie", "").lower() or any(c.secure for c in page.jar)


def test_leaving_a_risk_item_unanswered_is_asked_once_more(db):
    token, made = link(db)
    with running_server(db) as base:
        page = Page(base).get(f"/t/{token}")
        complete(page, [0] * 8)
        page.post({**page.hidden(), "action": "decline", "confirmed": "yes"})  # a forged confirmation: asked
        assert "Are you sure you want to leave this question unanswered?" in page.body
        assert "risk" not in page.body.lower() and "alert" not in page.body.lower()
        page.press("cancel")
        assert page.position() == ("PHQ-9", 9, 10) and "Nearly every day" in page.body
        page.press("skip")
        assert "Are you sure" in page.body
        page.post({**page.hidden(), "action": "skip", "confirmed": "yes"})
        assert page.position() == ("PHQ-9", 10, 10)
    with open_store(db) as store:
        assert store.responses(made["administrations"][0])["9"]["status"] == "skipped"
        assert [a["kind"] for a in store.alerts("c001")] == ["risk-item-unanswered"]


@pytest.mark.parametrize("args, says", [
    (["handover", "nobody", "phq9", "--json"], "nobody"),
    (["handover", "c001", "--json"], "name the forms"),
    (["handover", "c001", "phq9", "--expires", "soon", "--json"], "not a duration"),
    (["handover", "c001", "no-such", "--json"], "unknown instrument"),
    (["serve", "--port", "70000"], "70000"),
    (["serve", "--cert", "missing.pem", "--key", "missing.pem"], "missing.pem"),
])
def test_bad_input_to_serve_and_handover_is_one_line(db, invoke, args, says):
    result = invoke(*args, "--db", db, *(["--port", "1"] if args[0] == "handover" else []))
    assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output
    with open_store(db) as store:
        assert record.unfinished(store, "c001") == []


def test_cert_without_key_is_refused(db, invoke, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = invoke("serve", "--host", "0.0.0.0", "--cert", cert, "--db", db)
    assert result.exit_code == 2 and "--cert and --key together" in result.output


@pytest.mark.slow
def test_ipt_serve_runs_and_serves_a_link(db):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token, _ = link(db)
    proc = subprocess.Popen([sys.executable, "-m", "ipt_measures", "serve", "--port", str(port), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page = Page(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                page.get(f"/t/{token}")
                break
            except OSError:
                time.sleep(0.1)
        assert page.position() == ("PHQ-9", 1, 10)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}" in out and token not in out  # the token never reaches a log


def test_handover_due_leaves_out_what_must_go_on_paper(db, invoke):
    result = invoke("handover", "c001", "--due", "--json", "--db", db, "--port", "1")
    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        due = record.due(store, "c001").to_give
        started = [a["instrument_id"] for a in record.unfinished(store, "c001")]
    assert "phq9" in started and "gad7" in started
    registry = __import__("ipt_measures.plugins", fromlist=["get_registry"]).get_registry()
    for instrument_id in due:
        instrument = registry.instrument(instrument_id)
        shippable = instrument.respondent == "self-report" and all(i.text for i in instrument.items)
        assert (instrument_id in started) == shippable
        if not shippable:
            assert f"{instrument_id}: its item text is not shipped" in result.output
    assert re.search(r'"url": "http://127\.0\.0\.1:1/t/', result.output)


def test_the_watch_ends_when_the_link_expires(db):
    token, made = link(db)
    with running_server(db) as base:
        Page(base).get(f"/t/{token}").answer(1)
    with Raw(db) as con:  # the link's time is up
        con.execute("UPDATE handovers SET expires_at = '2000-01-01T00:00:00+00:00'")
    with open_store(db) as store:
        events = list(service.watch(store, made["id"], sleep=lambda s: None))
    assert ("progress", "PHQ-9: item 2 of 10") in events
    assert events[-1][0] == "end" and "expired (1 answer saved)" in events[-1][1]
