"""Boundaries of the package, checked by reading it: only ``store/`` speaks SQL or names a database driver,
the store interface (``store/base.py``) is one checklist every engine implements, and the IPT vocabulary is
written once (``domain.py``)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import ipt_measures
from ipt_measures.store.base import Store
from ipt_measures.store.postgres import PostgresStore
from ipt_measures.store.sqlite import SQLiteStore

PACKAGE = Path(ipt_measures.__file__).parent
STORE = PACKAGE / "store"
DRIVERS = ("sqlite3", "psycopg", "psycopg2", "apsw")


def _modules_outside_store():
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE not in path.parents:
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_database_driver_is_imported_outside_the_store():
    found = []
    for path, tree in _modules_outside_store():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found += [f"{path.relative_to(PACKAGE)}:{node.lineno} {name}" for name in names
                      if name.split(".")[0] in DRIVERS]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in DRIVERS:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []


def test_no_store_internals_are_used_outside_the_store():
    """No connection, raw query or raw write of a store outside it: each query is a named store method."""
    found = []
    for path, tree in _modules_outside_store():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("conn", "_conn", "query", "_query", "write",
                                                                  "_write", "create_function", "transaction"):
                target = ast.unparse(node.value)
                if "store" in target.lower() or target in ("s", "db"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {target}.{node.attr}")
    assert found == []


SQL = re.compile(r"\b(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA\s+\w+|CREATE\s+TABLE)\b")


def test_no_sql_is_written_outside_the_store():
    found = []
    for path, tree in _modules_outside_store():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                if not _is_docstring(tree, node):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value[:60]!r}")
    assert found == []


def _is_docstring(tree: ast.AST, constant: ast.Constant) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and first.value is constant:
                return True
    return False


def _interface_methods() -> list[str]:
    return [name for name, value in vars(Store).items()
            if callable(value) and (not name.startswith("_") or name in ("__enter__", "__exit__"))]


ENGINES = pytest.mark.parametrize("engine_class", [SQLiteStore, PostgresStore], ids=["sqlite", "postgresql"])


@ENGINES
def test_every_method_of_the_interface_exists_on_each_store(engine_class):
    """Each engine implements each method, with the parameters the services may pass."""
    methods = _interface_methods()
    assert len(methods) > 40
    missing, differing = [], []
    for name in methods:
        implementation = getattr(engine_class, name, None)
        if implementation is None:
            missing.append(name)
            continue
        wanted = [p.name for p in inspect.signature(getattr(Store, name)).parameters.values()]
        have = [p.name for p in inspect.signature(implementation).parameters.values()]
        if [n for n in wanted if n not in have]:
            differing.append(f"{name}: {wanted} vs {have}")
    assert missing == [] and differing == []


@ENGINES
def test_the_interface_lists_every_public_method_of_each_store(engine_class):
    public = {name for name, value in inspect.getmembers(engine_class) if callable(value) and not name.startswith("_")}
    assert sorted(public - set(_interface_methods())) == []


def test_every_interface_method_is_documented_in_one_line():
    for name in _interface_methods():
        doc = inspect.getdoc(getattr(Store, name)) or ""
        assert doc and "\n" not in doc, name


def test_the_ipt_vocabulary_is_written_once():
    """PROBLEM_AREAS and PHASES live in domain.py; no other module spells the lists out again."""
    from ipt_measures.domain import PHASES, PROBLEM_AREAS

    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "domain.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("PROBLEM_AREAS", "PHASES")
                                                    for t in node.targets):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} assigns {ast.unparse(node.targets[0])}")
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if values >= set(PROBLEM_AREAS) or values >= set(PHASES):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} spells out {sorted(values)}")
    assert found == []
