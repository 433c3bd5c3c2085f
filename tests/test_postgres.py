"""The PostgreSQL store: same migrations as SQLite, same schema, the same record through the same commands."""

from __future__ import annotations

import pytest

from ipt_measures.store import migrations, migrations_postgres


def test_both_engines_have_the_same_migrations_in_the_same_order():
    assert [n for n, _ in migrations.MIGRATIONS] == [n for n, _ in migrations_postgres.MIGRATIONS]


def test_both_engines_end_with_the_same_tables_and_columns(pg_url, tmp_path):
    from ipt_measures.store import open_store

    with open_store(tmp_path / "s.db") as lite:
        tables = [r[0] for r in lite._query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        sqlite_schema = {t: sorted(r[1] for r in lite._query(f"PRAGMA table_info({t})")) for t in tables}
    with open_store(pg_url) as pg:
        rows = pg._query("SELECT table_name, column_name FROM information_schema.columns"
                         " WHERE table_schema = 'public' ORDER BY table_name")
    pg_schema: dict[str, list[str]] = {}
    for table, column in rows:
        pg_schema.setdefault(table, []).append(column)
    pg_schema = {t: sorted(c) for t, c in pg_schema.items()}
    # PostgreSQL keeps the order answers were given in a column (SQLite has its rowid for that).
    pg_schema["responses"].remove("entry_order")
    assert pg_schema == sqlite_schema


def test_a_course_on_postgresql_through_the_command_line(invoke, pg_url):
    assert invoke("clients", "add", "c1", "--db", pg_url).exit_code == 0
    out = invoke("course", "start", "c1", "--problem-area", "grief", "--db", pg_url)
    assert out.exit_code == 0, out.output


# Client ids a linguistic collation reorders (it ignores case, '-', '_' and '.' at first): SQLite, and Python's
# sorted(), compare code points.
ORDER_IDS = ["ZZ_CLIENT.odd", "ZZCLIENT-0000", "a-1", "A2", "b", "B", "c_3"]


@pytest.fixture
def linguistic_url(pg_cluster):
    """A database whose default collation is ICU's en-US, as on a server initialised in an English locale."""
    import uuid

    import psycopg

    name = "t_icu_" + uuid.uuid4().hex[:8]
    with pg_cluster.connect() as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE \'en-US\''
                         " LOCALE 'C.UTF-8'")
        except psycopg.Error as exc:
            pytest.skip(f"this PostgreSQL has no ICU collation: {exc}")
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


def test_text_is_listed_and_exported_in_the_same_order_whatever_the_servers_collation(linguistic_url, tmp_path,
                                                                                      invoke):
    """A server initialised with en_US.UTF-8 (the common case) sorted client ids linguistically ('a-1' before
    'A2' before 'b'), so `ipt clients list` and every export came out in another order than on SQLite."""
    import csv
    import io
    import json

    lite = tmp_path / "order.db"
    for location in (lite, linguistic_url):
        for n, client in enumerate(ORDER_IDS):
            for args in (["clients", "add", client], ["course", "start", client, "--problem-area", "grief"],
                         ["session", "start", client], ["administer", client, "phq9", "--answers", f"{n % 4},0,0,0,0,0,0,0,0"]):
                result = invoke(*args, "--db", location)
                assert result.exit_code == 0, result.output

    def listed(location):
        return [c["id"] for c in json.loads(invoke("clients", "list", "--json", "--db", location).stdout)]

    def exported(location, *args):
        result = invoke("export", "--all", "--format", "csv-long", *args, "--db", location)
        assert result.exit_code == 0, result.output
        out = result.stdout
        return [r["client_id"] for r in csv.DictReader(io.StringIO(out))]

    assert listed(lite) == sorted(ORDER_IDS)  # code-point order
    assert listed(linguistic_url) == listed(lite)
    assert exported(linguistic_url) == exported(lite) == sorted(ORDER_IDS)


def test_a_literal_percent_reaches_the_server_as_written(pg_url):
    """The shared statements' `?` become psycopg's `%s`, and a literal % is doubled for that: with no
    parameters at all it must still come back as one %."""
    from ipt_measures.store import open_store

    with open_store(pg_url) as store:
        assert store._query("SELECT 'a%b' AS v")[0]["v"] == "a%b"
        assert store._query("SELECT ? || '%' AS v", ("50",))[0]["v"] == "50%"
