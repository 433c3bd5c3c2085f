"""The PostgreSQL store: same migrations as SQLite, same schema, the same record through the same commands."""

from __future__ import annotations

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
