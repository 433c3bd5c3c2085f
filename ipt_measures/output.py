"""Writing an output file safely: a regular file atomically (temp file, then rename), a device or pipe in place.

Shared by `ipt export` and `ipt report`: a failed write never leaves a half-written file over an earlier
one, and a device given as the output (``/dev/null``, ``/dev/stdout``, a FIFO) is written to, never
replaced (renaming over it as root would replace the device itself).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, TypeVar

from .errors import UsageError

T = TypeVar("T")


def write_output(path: Path | str, write: Callable, binary: bool = False):
    """Call ``write(stream)`` with a stream on ``path`` and return its result; errors become UsageError."""
    path = Path(path)
    mode_flags = {"mode": "wb"} if binary else {"mode": "w", "newline": "", "encoding": "utf-8"}

    def cannot(exc):
        return UsageError(f"cannot write {path}: {exc.strerror or exc}")

    try:
        mode = os.stat(path).st_mode  # follows links: /dev/stdout is whatever standard output is
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise cannot(exc) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            out = open(path, **mode_flags)
        except OSError as exc:
            raise cannot(exc) from None
        try:
            with out:
                return write(out)
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full device (ENOSPC), an I/O error
            raise cannot(exc) from None

    # Through any symbolic link to the file it names: the link itself stays a link.
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)  # owner-only: a clinical record
    except OSError as exc:
        raise cannot(exc) from None
    try:
        with os.fdopen(fd, **mode_flags) as out:
            result = write(out)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise cannot(exc) from None
        raise
    return result
