"""Clinicians and roles on a PostgreSQL record, enforced by the server (issue 12, part 3).

Every role is a real, non-superuser login made with ``ipt staff add`` (the tests' superuser bypasses
row-level security, so it only sets up and inspects). Each test connects as clinician A, clinician B, a
supervisor or a researcher through ``pg_cluster.url(db, user=NAME)`` (trust authentication on the private
socket) and runs the real command line.
"""

from __future__ import annotations

import json
import re

import pytest

PHQ9_NO_RISK = "1,1,1,1,1,1,1,1,0"
PHQ9_RISK = "1,1,1,1,1,1,1,1,2"  # item 9 answered 2: a critical alert
CLIENT_TABLES = ("clients", "courses", "sessions", "administrations", "responses", "scores", "alerts", "audit",
                 "handovers", "handover_forms", "relationships", "relationship_ratings", "goals", "course_summaries")


class Clinic:
    """A PostgreSQL record with an admin, clinicians A and B, a supervisor and a researcher, and one client
    each for A (a1) and B (b1: a PHQ-9 with a critical item 9, so an open alert)."""

    def __init__(self, cluster, invoke, tag: str):
        self.cluster, self.invoke = cluster, invoke
        self.db = cluster.new_database()
        self.names = {kind: f"{kind}-{tag}" for kind in ("admin", "alice", "bob", "sup", "res")}

    def url(self, who: str = "") -> str:
        return self.cluster.url(self.db, user=self.names[who] if who else None)

    def run(self, who: str, *args, input=None):
        return self.invoke(*args, "--db", self.url(who), input=input) if args and args[0] != "alerts" \
            else self.invoke("--db", self.url(who), *args, input=input)

    def ok(self, who: str, *args):
        result = self.run(who, *args)
        assert result.exit_code == 0, result.output
        return result

    def setup(self) -> "Clinic":
        n = self.names
        self.invoke("--db", self.url(), "staff", "add", n["admin"], "--role", "admin")  # the superuser: first admin
        for who, role in (("alice", "clinician"), ("bob", "clinician"), ("sup", "supervisor"), ("res", "researcher")):
            self.ok("admin", "staff", "add", n[who], "--role", role)
        for who, client, answers in (("alice", "a1", PHQ9_NO_RISK), ("bob", "b1", PHQ9_RISK)):
            self.ok(who, "clients", "add", client, "--name", f"Name {client}", "--birth-year", "1980")
            self.ok(who, "course", "start", client, "--problem-area", "grief", "--start", "2024-01-08")
            self.ok(who, "session", "start", client, "--date", "2024-01-08", "--yes")
            self.ok(who, "administer", client, "phq9", "--answers", answers)
        return self

    def digest(self) -> dict:
        """Every row of every table of client data, read as the superuser: what "nothing changed" compares."""
        with self.cluster.connect(self.db) as conn:
            return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in CLIENT_TABLES}

    def alert_of(self, client: str) -> int:
        with self.cluster.connect(self.db) as conn:
            return conn.execute("SELECT id FROM alerts WHERE client_id = %s", (client,)).fetchone()[0]

    def drop(self):
        self.cluster.drop_database(self.db)


@pytest.fixture
def clinic(pg_cluster, invoke, isolated_data):
    import uuid

    # Digits only: role names carry the suffix into outputs the tests search for client ids such as "b1", which
    # a hex suffix holds about one run in twenty ("alice-7ab1335d").
    clinic = Clinic(pg_cluster, invoke, str(uuid.uuid4().int)[:8]).setup()
    yield clinic
    clinic.drop()


NO_CLIENT = "no client 'b1' that you can see"


def _one_error(result, text: str) -> bool:
    """The command said why in one line (an open critical alert may be shown above it: it must be)."""
    errors = [line for line in result.output.splitlines() if line.startswith(("Error:", '{"error"'))]
    return len(errors) == 1 and text in errors[0] and "Traceback" not in result.output

# Every command that names a client, as clinician A naming clinician B's client b1.
OTHERS_CLIENT = {
    "clients show": ("clients", "show", "b1"),
    "course show": ("course", "show", "b1"),
    "course start": ("course", "start", "b1", "--problem-area", "grief"),
    "course end": ("course", "end", "b1", "--reason", "completed"),
    "course summary": ("course", "summary", "b1", "--plan", "keep going"),
    "session start": ("session", "start", "b1", "--yes"),
    "session list": ("session", "list", "b1"),
    "session amend": ("session", "amend", "b1", "1", "--date", "2024-01-09", "--reason", "typo"),
    "administer": ("administer", "b1", "phq9", "--answers", PHQ9_NO_RISK),
    "amend": ("amend", "b1", "phq9", "--session", "1", "--item", "9", "--value", "0", "--reason", "misread"),
    "due": ("due", "b1"),
    "audit": ("audit", "b1"),
    "progress": ("progress", "b1"),
    "export": ("export", "b1"),
    "report": ("report", "b1", "-o", "REPORT"),
    "alerts": ("alerts", "b1", "--all"),
    "inventory": ("inventory", "b1"),
    "inventory add": ("inventory", "b1", "add", "partner", "--type", "partner", "--closeness", "inner",
                      "--support", "1", "--conflict", "4", "--contact", "daily"),
    "goals": ("goals", "b1"),
    "goals add": ("goals", "b1", "add", "Talk with my partner", "--problem-area", "grief"),
    "handover": ("handover", "b1", "phq9", "--json"),
}


@pytest.mark.parametrize("command", sorted(OTHERS_CLIENT))
def test_a_clinician_cannot_reach_another_clinicians_client_through_any_command(clinic, command, tmp_path):
    args = [str(tmp_path / "r.html") if a == "REPORT" else a for a in OTHERS_CLIENT[command]]
    before = clinic.digest()
    result = clinic.run("alice", *args)
    assert result.exit_code != 0, result.output
    assert _one_error(result, NO_CLIENT)
    assert clinic.digest() == before
    assert not (tmp_path / "r.html").exists()


def test_a_clinician_lists_only_their_own_caseload_and_alerts(clinic):
    for command in (("clients", "list", "--json"), ("caseload", "--json"), ("alerts", "--json"),
                    ("caseload", "--clinician", clinic.names["bob"], "--json")):
        result = clinic.ok("alice", *command)
        assert not re.search(r"\bb1\b", result.output), command  # (the staff names' random tags may hold "b1")
    assert [r["id"] for r in json.loads(clinic.ok("alice", "clients", "list", "--json").output)] == ["a1"]
    assert [r["client_id"] for r in json.loads(clinic.ok("alice", "caseload", "--json").output)] == ["a1"]
    # And the export of "all" is all of theirs, no more.
    assert not re.search(r"\bb1\b", clinic.ok("alice", "export", "--all").output)


def test_a_clinician_adding_an_id_another_clinician_holds_is_told_in_one_line(clinic):
    before = clinic.digest()
    result = clinic.run("alice", "clients", "add", "b1")
    assert result.exit_code != 0 and _one_error(result, "already in use"), result.output
    assert "Name b1" not in result.output and clinic.digest() == before


def test_a_clinician_cannot_acknowledge_another_clinicians_alert(clinic):
    alert = clinic.alert_of("b1")
    before = clinic.digest()
    result = clinic.run("alice", "alerts", "ack", str(alert), "--action", "reviewed")
    assert result.exit_code != 0 and _one_error(result, f"no alert {alert} that you can see")
    assert clinic.digest() == before
    # Bob, whose client it is, can.
    clinic.ok("bob", "alerts", "ack", str(alert), "--action", "risk assessed")


def test_a_clinician_cannot_assign_a_course_to_someone_else_but_an_admin_can(clinic):
    clinic.ok("alice", "clients", "add", "a2")
    before = clinic.digest()
    result = clinic.run("alice", "course", "start", "a2", "--problem-area", "grief", "--clinician", clinic.names["bob"])
    assert result.exit_code != 0 and "not permitted" in result.output
    assert clinic.digest() == before
    for stranger in ("nobody", clinic.names["res"]):  # not on the staff; a researcher treats no one
        refused = clinic.run("admin", "course", "start", "a2", "--problem-area", "grief", "--clinician", stranger)
        assert refused.exit_code != 0 and _one_error(refused, "is not a clinician on the staff"), refused.output
    assert clinic.digest() == before
    clinic.ok("admin", "course", "start", "a2", "--problem-area", "grief", "--clinician", clinic.names["bob"])
    # The client is now Bob's: his to see, no longer Alice's.
    assert "a2" in clinic.ok("bob", "clients", "list").output
    assert "no client 'a2' that you can see" in clinic.run("alice", "clients", "show", "a2").output
    shown = clinic.ok("admin", "clients", "show", "a2").output
    assert f"Clinician: {clinic.names['bob']}" in shown


def test_a_supervisor_reads_everyone_but_amends_nothing(clinic, tmp_path):
    caseload = json.loads(clinic.ok("sup", "caseload", "--json").output)
    assert sorted(r["client_id"] for r in caseload) == ["a1", "b1"]
    assert {r["clinician"] for r in caseload} == {clinic.names["alice"], clinic.names["bob"]}
    assert "Clinician" in clinic.ok("sup", "caseload").output
    assert "Client b1" in clinic.ok("sup", "clients", "show", "b1").output
    clinic.ok("sup", "report", "b1", "-o", str(tmp_path / "b1.html"))
    assert "b1" in clinic.ok("sup", "export", "b1").output
    before = clinic.digest()
    for command in (("administer", "b1", "phq9", "--answers", PHQ9_NO_RISK),
                    ("amend", "b1", "phq9", "--session", "1", "--item", "1", "--value", "0", "--reason", "misread"),
                    ("session", "start", "b1", "--yes"),
                    ("clients", "add", "s1")):
        result = clinic.run("sup", *command)
        assert result.exit_code != 0, command
        assert _one_error(result, "not permitted"), result.output
    after = clinic.digest()
    # Reading is audited (the report and the export above, in the supervisor's name); nothing else changed.
    assert {t: v for t, v in after.items() if t != "audit"} == {t: v for t, v in before.items() if t != "audit"}
    assert after["audit"] == before["audit"]


def test_a_supervisor_acknowledges_an_alert_in_their_own_name(clinic):
    alert = clinic.alert_of("b1")
    clinic.ok("sup", "alerts", "ack", str(alert), "--action", "covering: risk assessed", "--by", "Dr Who")
    with clinic.cluster.connect(clinic.db) as conn:
        row = conn.execute("SELECT actor, declared_actor FROM audit WHERE action = 'alert acknowledged'").fetchone()
    assert row == (clinic.names["sup"], "Dr Who")


def test_a_researcher_gets_only_pseudonyms(clinic, tmp_path):
    key = tmp_path / "k.key"
    for fmt in ("csv-long", "json", "fhir"):
        result = clinic.ok("res", "export", "--all", "--deidentify", "--key-file", str(key), "--format", fmt)
        text = result.output
        for secret in ('"a1"', '"b1"', "Name a1", "Name b1", "1980", ",a1,", ",b1,"):
            assert secret not in text, (fmt, secret)
        assert "p-" in text
    rows = clinic.ok("res", "export", "--all", "--deidentify", "--key-file", str(key), "--format", "json").output
    records = json.loads(rows)["administrations"]
    assert len(records) == 2 and all(r["client"]["id"].startswith("p-") for r in records)
    # The same key gives the same pseudonyms next time.
    assert json.loads(clinic.ok("res", "export", "--all", "--deidentify", "--key-file", str(key),
                                "--format", "json").stdout)["administrations"] == records
    # The answers and scores are all there: the same as the admin's own de-identified export, but for the ids.
    admin = json.loads(clinic.ok("admin", "export", "--all", "--deidentify", "--key-file", str(tmp_path / "a.key"),
                                 "--format", "json").stdout)["administrations"]

    def content(rs):
        return sorted(json.dumps({k: v for k, v in r.items() if k not in ("client", "administration")}, sort_keys=True)
                      for r in rs)

    assert content(records) == content(admin)
    # The alerts come too (b1's critical item 9, a FHIR Flag), without who acknowledged them or a note.
    fhir = clinic.ok("res", "export", "--all", "--deidentify", "--key-file", str(key), "--format", "fhir").stdout
    admin_fhir = clinic.ok("admin", "export", "--all", "--deidentify", "--key-file", str(tmp_path / "a.key"),
                           "--format", "fhir").stdout
    assert fhir.count('"resourceType":"Flag"') == admin_fhir.count('"resourceType":"Flag"') == 1


def test_a_researcher_is_refused_everything_else_in_one_line(clinic, tmp_path):
    before = clinic.digest()
    for command in (("clients", "list"), ("caseload",), ("clients", "show", "a1"), ("alerts",), ("export", "--all"),
                    ("export", "a1", "--deidentify", "--key-file", str(tmp_path / "k.key")),
                    ("audit", "a1"), ("report", "a1", "-o", str(tmp_path / "r.html")),
                    ("clients", "add", "r1")):
        result = clinic.run("res", *command)
        assert result.exit_code != 0, command
        assert _one_error(result, "not permitted"), (command, result.output)
    assert clinic.digest() == before


def test_the_audit_names_the_role_whatever_by_and_ipt_user_say(clinic, monkeypatch):
    monkeypatch.setenv("IPT_USER", "someone-else")
    clinic.ok("alice", "amend", "a1", "phq9", "--session", "1", "--item", "1", "--value", "0", "--reason", "misread",
              "--by", "Dr Declared")
    with clinic.cluster.connect(clinic.db) as conn:
        rows = conn.execute("SELECT DISTINCT actor, declared_actor FROM audit WHERE action = 'amendment'").fetchall()
        # A role cannot write an audit row in another's name, even with SQL of its own.
    assert rows == [(clinic.names["alice"], "Dr Declared")]
    import psycopg

    with clinic.cluster.connect(clinic.db, user=clinic.names["alice"]) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO audit (at, actor, action) VALUES ('2024-01-01', 'bob', 'forged')")
        for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_only_an_admin_adds_staff(clinic):
    for who in ("alice", "sup", "res"):
        result = clinic.run(who, "staff", "add", f"new-{who}-{clinic.db[-6:]}", "--role", "clinician")
        assert result.exit_code != 0 and _one_error(result, "only an admin adds staff"), result.output
    listed = json.loads(clinic.ok("admin", "staff", "list", "--json").output)
    assert {(s["name"], s["role"]) for s in listed} == {
        (clinic.names["admin"], "admin"), (clinic.names["alice"], "clinician"), (clinic.names["bob"], "clinician"),
        (clinic.names["sup"], "supervisor"), (clinic.names["res"], "researcher")}
    with clinic.cluster.connect(clinic.db) as conn:
        audited = conn.execute("SELECT actor, entity_id, new_value FROM audit WHERE action = 'staff added'"
                               " AND entity_id = %s", (clinic.names["alice"],)).fetchone()
    assert audited == (clinic.names["admin"], clinic.names["alice"], "clinician")


def test_a_new_admin_adds_staff_who_can_then_connect(clinic):
    name = f"carol-{clinic.db[-6:]}"
    clinic.ok("admin", "staff", "add", name, "--role", "clinician")
    result = clinic.invoke("clients", "list", "--db", clinic.cluster.url(clinic.db, user=name))
    assert result.exit_code == 0 and not re.search(r"\b[ab]1\b", result.output)


def test_a_login_that_is_not_staff_cannot_connect_to_the_record(clinic):
    with clinic.cluster.connect() as conn:
        conn.execute(f'CREATE ROLE "stranger-{clinic.db[-6:]}" LOGIN')
    result = clinic.invoke("clients", "list", "--db", clinic.cluster.url(clinic.db, user=f"stranger-{clinic.db[-6:]}"))
    assert result.exit_code != 0 and "cannot connect" in result.output


# -- SQLite: no server, so the staff list is kept and says so ---------------------------------------------


def test_staff_on_sqlite_keeps_the_list_and_says_no_server_enforces_it(invoke, isolated_data):
    invoke("clients", "add", "c1")  # creates the record
    result = invoke("staff", "add", "jsmith", "--role", "clinician")
    assert result.exit_code == 0, result.output
    assert "a SQLite record has no server to enforce roles" in result.output
    listed = invoke("staff", "list", "--json")
    assert [(s["name"], s["role"]) for s in json.loads(listed.stdout)] == [("jsmith", "clinician")]
    assert invoke("staff", "add", "jsmith", "--role", "admin").exit_code != 0
    bad = invoke("staff", "add", "J Smith", "--role", "clinician")
    assert bad.exit_code != 0 and "cannot be a staff name" in bad.output


def test_a_course_on_sqlite_is_the_logins_unless_another_clinician_is_named(invoke, isolated_data):
    import getpass

    invoke("clients", "add", "c1")
    invoke("clients", "add", "c2")
    assert invoke("course", "start", "c1", "--problem-area", "grief").exit_code == 0
    assert invoke("course", "start", "c2", "--problem-area", "grief", "--clinician", "jsmith").exit_code == 0
    rows = {r["client_id"]: r["clinician"] for r in json.loads(invoke("caseload", "--json").stdout)}
    assert rows == {"c1": getpass.getuser(), "c2": "jsmith"}
    assert "Clinician: jsmith" in invoke("clients", "show", "c2").output
    only = json.loads(invoke("caseload", "--clinician", "jsmith", "--json").stdout)
    assert [r["client_id"] for r in only] == ["c2"]


def test_migration_0011_gives_existing_clients_and_courses_who_the_audit_says_added_them(tmp_path, monkeypatch):
    from ipt_measures.store import migrations, open_store
    import ipt_measures.store.sqlite as sqlite_store

    path = tmp_path / "old.db"
    full = list(migrations.MIGRATIONS)
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [m for m in full if m[0] < "0011"])
    with open_store(path) as old:
        c = old._conn
        c.execute("INSERT INTO clients (id, created_at) VALUES ('c1', 'now'), ('c2', 'now')")
        c.execute("INSERT INTO courses (id, client_id, start_date, planned_sessions, problem_areas, created_at)"
                  " VALUES (3, 'c1', '2026-01-05', 16, '[\"grief\"]', 'now'), (4, 'c2', '2026-01-05', 16, '[]', 'now')")
        c.execute("INSERT INTO audit (at, actor, client_id, action, entity, entity_id) VALUES"
                  " ('now', 'jsmith', 'c1', 'client added', 'client', 'c1'),"
                  " ('now', 'akhan', 'c1', 'course started', 'course', '3')")
        c.commit()
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", full)
    with open_store(path) as new:
        assert {r["id"]: r["clinician"] for r in new.list_clients()} == {"c1": "jsmith", "c2": "unassigned"}
        assert new.get_course(3)["clinician"] == "akhan" and new.get_course(4)["clinician"] == "unassigned"


def test_the_readme_clinic_set_up_with_a_first_admin_who_is_not_a_superuser(pg_cluster, invoke, isolated_data):
    """README "Running a clinic server": createuser --createrole, createdb --owner, then everything as that
    admin (who owns the tables and, under FORCE ROW LEVEL SECURITY, is held to the policies like anyone)."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    first, clin, sup = f"clinicadmin-{tag}", f"jsmith-{tag}", f"mlee-{tag}"
    with pg_cluster.connect() as conn:
        conn.execute(f'CREATE ROLE "{first}" LOGIN CREATEROLE')
    db = pg_cluster.new_database(owner=first)
    try:
        as_admin = pg_cluster.url(db, user=first)
        upgraded = invoke("db", "upgrade", "--db", as_admin)
        assert upgraded.exit_code == 0, upgraded.output
        for name, role in ((clin, "clinician"), (sup, "supervisor")):
            assert invoke("staff", "add", name, "--role", role, "--db", as_admin).exit_code == 0
        as_clin = pg_cluster.url(db, user=clin)
        assert invoke("clients", "add", "c1", "--db", as_clin).exit_code == 0
        assert invoke("course", "start", "c1", "--problem-area", "grief", "--db", as_clin).exit_code == 0
        # The admin who owns the tables sees the clinician's client; the supervisor reads it.
        assert "c1" in invoke("clients", "list", "--db", as_admin).output
        assert "c1" in invoke("caseload", "--db", pg_cluster.url(db, user=sup)).output
        # A researcher's export works through functions the admin owns.
        res = f"rdata-{tag}"
        assert invoke("staff", "add", res, "--role", "researcher", "--db", as_admin).exit_code == 0
        assert invoke("export", "--all", "--deidentify", "--key-file", str(isolated_data / "k.key"),
                      "--db", pg_cluster.url(db, user=res)).exit_code == 0
        with pg_cluster.connect(db, user=first) as conn:
            kept = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
            assert conn.execute("SELECT count(*) FROM audit WHERE actor = %s", (clin,)).fetchone()[0] >= 2
            # Not even the tables' owner deletes or rewrites the audit: no policy lets a row be touched.
            assert conn.execute("DELETE FROM audit").rowcount == 0
            assert conn.execute("UPDATE audit SET actor = 'x'").rowcount == 0
            assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == kept
    finally:
        pg_cluster.drop_database(db)


def test_a_researcher_with_sql_of_their_own_still_gets_only_pseudonyms(clinic):
    import psycopg

    with clinic.cluster.connect(clinic.db, user=clinic.names["res"]) as conn:
        for sql in ("SELECT * FROM clients", "SELECT * FROM audit", "SELECT * FROM goals",
                    "SELECT ipt_private.pseudonym('a1')",  # with it, guessable ids would be reversed
                    "SELECT * FROM ipt_private.pseudonym_key", "SELECT * FROM ipt_caseload.courses()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        rows = conn.execute("SELECT client_id, display_name, birth_year, end_reason FROM ipt_research.export_rows()")
        rows = rows.fetchall()
    assert len(rows) == 2
    assert all(r[0].startswith("s-") and r[1:] == (None, None, None) for r in rows)
