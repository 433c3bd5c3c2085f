"""Installed entry points of one group, read from the distributions' metadata folders without importlib.metadata.

Importing ``importlib.metadata`` costs about 20 ms (it pulls in ``email``, ``zipfile`` and ``csv``): a sixth of
every ``ipt`` command, spent only to find the plugins. For the folders on ``sys.path`` the job is small and fully
specified, and this module does exactly what CPython's ``importlib.metadata.entry_points(group=...)`` does there
(``MetadataPathFinder``, ``FastPath``, ``Lookup``, ``_unique`` and ``Sectioned`` in CPython 3.10-3.13):

- each ``sys.path`` entry in order; in each folder, every child named ``*.dist-info`` or ``*.egg-info`` (any case),
  and the ``EGG-INFO`` folder of an entry that is itself a ``*.egg`` folder;
- of the distributions with the same normalised name (PEP 503, with ``_``), the first one found wins;
- ``entry_points.txt`` is read as the PyPA "Entry points specification" says: ``[group]`` lines and
  ``name = value`` pairs, blank lines and ``#`` comments skipped;
- the distribution's name and version are the ``Name:`` and ``Version:`` fields of its ``METADATA`` (``PKG-INFO``
  for an egg), read from the header only (PyPA "Core metadata specifications"), and only for a distribution that
  has an entry point in the group.

Where the environment holds anything else (a zip or egg file on ``sys.path``, or a meta-path finder of its own
that can find distributions), :func:`entry_points` asks ``importlib.metadata``, which knows those.
``tests/test_plugins.py`` checks both give the same entry points on synthetic environments and on the real one.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Optional

_NORMALISE = re.compile(r"[-_.]+")
_INFO_SUFFIXES = (".dist-info", ".egg-info")
# The entry point syntax of the specification, as importlib.metadata.EntryPoint.pattern spells it.
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class EntryPoint:
    """One entry point: ``name = value`` in ``group``, from the distribution ``dist_name`` ``dist_version``."""

    __slots__ = ("name", "value", "group", "dist_name", "dist_version")

    def __init__(self, name: str, value: str, group: str, dist_name: Optional[str], dist_version: Optional[str]):
        self.name, self.value, self.group = name, value, group
        self.dist_name, self.dist_version = dist_name, dist_version

    def load(self) -> Any:
        """The module the value names, or the object inside it after ``:`` (as ``EntryPoint.load`` does)."""
        import importlib

        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"{self.value!r} is not an entry point (module or module:attribute)")
        target = importlib.import_module(match.group("module"))
        for attr in filter(None, (match.group("attr") or "").split(".")):
            target = getattr(target, attr)
        return target

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group`` in the installed distributions, as ``importlib.metadata`` would find them."""
    return _from_importlib_metadata(group) if _needs_importlib_metadata() else _scan(group)


def _scan(group: str) -> list[EntryPoint]:
    """What importlib.metadata finds in the folders on sys.path, read as it reads them."""
    found = []
    for folder in _unique_distributions():
        pairs = _group_pairs(_read(os.path.join(folder, "entry_points.txt")), group)
        if pairs:
            name, version = _name_and_version(folder)
            found.extend(EntryPoint(n, v, group, name, version) for n, v in pairs)
    return found


def normalise(name: str) -> str:
    """A distribution name as importlib.metadata compares them: PEP 503, with ``_`` for the separator."""
    return _NORMALISE.sub("-", name).lower().replace("-", "_")


def _needs_importlib_metadata() -> bool:
    """True where something other than plain folders on sys.path could hold a distribution."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and callable(getattr(finder, "find_distributions", None)):
            return True
    return any(os.path.isfile(entry) for entry in sys.path if entry)


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    from importlib.metadata import entry_points as stdlib_entry_points

    facts: dict[int, tuple[Optional[str], Optional[str]]] = {}  # one metadata read per distribution
    found = []
    for ep in stdlib_entry_points(group=group):
        dist = getattr(ep, "dist", None)
        if dist is not None and id(dist) not in facts:
            metadata = dist.metadata
            facts[id(dist)] = (metadata["Name"], metadata["Version"])
        name, version = facts.get(id(dist), (None, None)) if dist is not None else (None, None)
        found.append(EntryPoint(ep.name, ep.value, group, name, version))
    return found


def _unique_distributions() -> list[str]:
    """The metadata folders of the distributions on sys.path, the first of each normalised name.

    In importlib.metadata's order: the entries of sys.path in turn; within one, the ``*-info`` folders grouped by
    name in the order first listed, then an egg's ``EGG-INFO``."""
    seen: set[str] = set()
    folders = []
    for entry in sys.path:
        try:
            children = os.listdir(entry or ".")
        except OSError:
            continue
        infos: dict[str, list[str]] = {}
        eggs = []
        base = os.path.basename(entry).lower()
        for child in children:
            low = child.lower()
            if low.endswith(_INFO_SUFFIXES):
                infos.setdefault(normalise(low.rpartition(".")[0].partition("-")[0]), []).append(child)
            elif low == "egg-info" and base.endswith(".egg"):
                eggs.append(child)
        for child in [c for group in infos.values() for c in group] + eggs:
            folder = os.path.join(entry, child)
            key = _distribution_key(folder, child)
            if key is None or key not in seen:
                if key is not None:
                    seen.add(key)
                folders.append(folder)
    return folders


def _distribution_key(folder: str, child: str) -> Optional[str]:
    """The name two copies of one distribution share (``PathDistribution._normalized_name``): from the folder's
    name when it ends exactly in ``.dist-info`` or ``.egg-info``, else from its metadata's ``Name``."""
    stem, ext = os.path.splitext(child)
    if ext in _INFO_SUFFIXES:
        return normalise(stem.partition("-")[0])
    name = _name_and_version(folder)[0]
    return normalise(name) if name is not None else None


def _group_pairs(text: Optional[str], group: str) -> list[tuple[str, str]]:
    if not text:
        return []
    pairs, section = [], None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, equals, value = line.partition("=")
            if equals:  # importlib.metadata raises on a line without one, failing every distribution's
                pairs.append((name.strip(), value.strip()))
    return pairs


def _name_and_version(folder: str) -> tuple[Optional[str], Optional[str]]:
    text = _read(os.path.join(folder, "METADATA")) or _read(os.path.join(folder, "PKG-INFO")) or ""
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, colon, value = line.partition(":")
        if colon and not line[:1].isspace():
            fields.setdefault(key.strip().lower(), value.strip())
    return fields.get("name"), fields.get("version")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None
