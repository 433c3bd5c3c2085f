"""The compiled-definition cache: a validated instrument or protocol file kept in its plain form, as ``.pyc`` files are.

An entry is keyed by the SHA-256 of the file's bytes, this package's version, pydantic's version and the
scorer's version (and this cache's own format): a changed file, a new release or a new pydantic misses and is
validated with pydantic as before it is used. Deleting the cache changes nothing but speed. An entry that is
unreadable, truncated, of another format or for another key is ignored and rewritten; a cache folder that
cannot be written is simply not used. Entries are written beside their final name and moved into place, so a
reader never sees half an entry. ``ipt instruments validate`` and ``ipt doctor`` never read it.

The folder is ``$IPT_CACHE_DIR`` if set, else the platform's per-user cache folder (``$XDG_CACHE_HOME/ipt-measures``
or ``~/.cache/ipt-measures`` on Linux). Entries are JSON, never pickle: a cache file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

from . import plain
from .paths import user_dir

CACHE_ENV = "IPT_CACHE_DIR"
FORMAT = "1"  # raise when the entry layout or the plain classes change
KINDS = {"instrument": plain.Instrument, "protocol": plain.Protocol}

# Validations actually run by pydantic through this module (a miss): tests read it to prove a revalidation.
validations = 0
_enabled = True
_pydantic: Optional[str] = None  # found once per process


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return user_dir("cache")


def set_enabled(enabled: bool) -> bool:
    """Turn the cache on or off for this process (off: every file is validated); returns the previous setting."""
    global _enabled
    previous, _enabled = _enabled, enabled
    return previous


def versions_stamp() -> str:
    """This package's, pydantic's and the scorer's versions (and the entry format): part of every key."""
    global _pydantic
    import ipt_measures

    from .scoring import SCORER

    if _pydantic is None:
        _pydantic = _pydantic_version()
    return f"ipt-measures {ipt_measures.__version__}; pydantic {_pydantic}; scorer {SCORER}; format {FORMAT}"


def _pydantic_version() -> str:
    """pydantic's version without importing pydantic (about 80 ms): its ``version.py`` file names it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("pydantic")
        folder = Path(spec.origin).parent if spec and spec.origin else None
        if folder is not None:
            return hashlib.sha256((folder / "version.py").read_bytes()).hexdigest()[:16]
    except (ImportError, OSError, ValueError):
        pass
    import pydantic  # an unusual install (a zip, a frozen app): ask the package itself

    return pydantic.VERSION


def key_for(content: bytes, kind: str) -> str:
    digest = hashlib.sha256(f"{kind}\n{versions_stamp()}\n".encode())
    digest.update(content)
    return digest.hexdigest()


def load(path: Path, kind: str, validate: Callable[[Path], Any]) -> Any:
    """The plain form of the definition file ``path``: from the cache when its entry matches the file's bytes
    and these versions, else ``validate(path)`` (pydantic, raising on an invalid file), compiled and stored."""
    global validations
    cls = KINDS[kind]
    if not _enabled:
        validations += 1
        return plain.from_model(validate(path))
    try:
        content = Path(path).read_bytes()
    except OSError:  # let the validator say what is wrong with the file, as it always has
        validations += 1
        return plain.from_model(validate(path))
    key = key_for(content, kind)
    entry = cache_dir() / f"{kind}-{key[:40]}.json"
    found = _read(entry, key, cls)
    if found is not None:
        return found
    validations += 1
    compiled = plain.from_model(validate(path))
    _write(entry, key, kind, compiled)
    return compiled


def _read(entry: Path, key: str, cls: type) -> Any:
    try:
        with open(entry, "rb") as handle:
            data = json.loads(handle.read())
        if data.get("key") != key or data.get("format") != FORMAT:
            return None
        return cls.from_dump(data["definition"])
    except FileNotFoundError:
        return None
    except Exception:  # truncated, corrupt or foreign: ignored here, validated and rewritten
        return None


def _write(entry: Path, key: str, kind: str, compiled: Any) -> None:
    from .files import remove_quietly, temp_beside

    body = json.dumps({"format": FORMAT, "key": key, "kind": kind, "definition": compiled.model_dump()},
                      ensure_ascii=False, separators=(",", ":")).encode()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = temp_beside(entry)
    except Exception:  # a read-only or missing cache folder: work uncached
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(temp, entry)  # atomic; the entry it may replace was for the same key, or unreadable
    except OSError:
        remove_quietly(temp)
