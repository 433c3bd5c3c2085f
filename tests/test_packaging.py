"""The hand-written package list in pyproject.toml covers every package in the tree."""

import sys

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ipt_measures").rglob("__init__.py")}
    found |= {"ipt_measures_plugins" + "".join("." + part for part in p.parent.relative_to(ROOT / "plugins").parts)
              for p in (ROOT / "plugins").rglob("__init__.py")}
    assert found == listed


def test_builtin_plugins_are_entry_points():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = data["project"]["entry-points"]["ipt_measures"]
    modules = {p.stem for p in (ROOT / "plugins").glob("*.py") if p.stem != "__init__"}
    assert {v.split(".", 1)[1] for v in eps.values()} == modules
    assert all(name.replace("-", "_") == v.split(".", 1)[1] for name, v in eps.items())
