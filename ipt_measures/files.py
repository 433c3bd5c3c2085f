"""Writing files, once: owner-only, atomic, never over a file the user did not ask to replace.

Every command that writes a file the user names (``ipt export -o``, ``ipt report -o``, ``ipt backup``,
``ipt instruments ... -o``) goes through here:

- The data goes first to a temporary file beside the target, with a random name
  (``.NAME.<random>.partial``), created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and mode 0600: another user
  cannot plant a link there or guess the name, and nobody else can read a clinical record while it is
  being written. It is moved into place only when complete, so a failed or killed write never leaves a
  half-written file over an earlier one (``ipt doctor`` reports any ``.partial`` left by a killed one).
- An existing target is replaced only with ``force``; without it the final step is a hard link, which
  fails if the target appeared meanwhile, so there is no window in which a check passes and a file is
  then overwritten.
- Some files are never replaced, whatever ``force`` says and whatever path or link leads to them: the
  open database with its ``-wal``, ``-shm`` and ``-journal`` files, and the de-identification key. They are
  compared by device and inode (the file itself), and by resolved path while they do not exist yet.
- A device or pipe given as the output (``/dev/null``, ``/dev/stdout``, a FIFO) is written to in place,
  never replaced (renaming over it as root would replace the device itself).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

from .errors import UsageError

T = TypeVar("T")

TEMP_SUFFIX = ".partial"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # no O_NOFOLLOW on Windows, where symlinks need privileges anyway
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def companions(path: Path | str) -> list[Path]:
    """A SQLite database file and the files SQLite keeps beside it."""
    path = Path(path)
    return [path] + [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _identity(path: Path) -> Optional[tuple[int, int]]:
    try:
        st = os.stat(path)  # follows links: the file a link leads to
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether two paths lead to the same file: the same device and inode, or (while either does not exist)
    the same fully resolved path."""
    first, second = _identity(Path(a)), _identity(Path(b))
    if first is not None and second is not None:
        return first == second
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def check_target(path: Path | str, *, force: bool = False, protect: Iterable[tuple[Path | str, str]] = ()) -> None:
    """Refuse, before anything is written, an output that would destroy a file not meant to be replaced.

    :param protect: ``(path, what)`` pairs never written over, e.g. ``(db, "the open database")``; for a
        database pass each of :func:`companions`.
    :param force: allow replacing an existing regular file that is not protected.
    """
    path = Path(path)
    for guarded, what in protect:
        if guarded and same_file(path, guarded):
            raise UsageError(f"{path} is {what}: refusing to write over it (give another output file)")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a folder; give a file name")
    if stat.S_ISREG(mode) and not force:
        raise UsageError(f"{path} already exists; give another file name, or --force to replace it")


def temp_beside(target: Path | str) -> tuple[int, Path]:
    """A new owner-only temporary file beside ``target`` with a random name: (descriptor, path)."""
    target = Path(target)
    for _ in range(8):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW | _CLOEXEC, 0o600)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
        except (AttributeError, OSError):
            pass
        return fd, temp
    raise UsageError(f"cannot create a temporary file beside {target}")


def publish(temp: Path, target: Path, *, force: bool) -> None:
    """Move a finished temporary file to ``target``: replacing it only with ``force``."""
    if force:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails if target exists, even one created a moment ago
    except FileExistsError:
        raise UsageError(f"{target} already exists; give another file name, or --force to replace it") from None
    except OSError:
        # A file system without hard links (FAT, some network shares): check, then rename.
        if os.path.lexists(target):
            raise UsageError(f"{target} already exists; give another file name, or --force to replace it") from None
        os.replace(temp, target)
        return
    os.unlink(temp)


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_output(path: Path | str, write: Callable, binary: bool = False, *, force: bool = False,
                 protect: Iterable[tuple[Path | str, str]] = ()):
    """Call ``write(stream)`` with a stream on ``path`` and return its result; errors become UsageError.

    See the module docstring for the rules (``force``, ``protect``, devices, the temporary file).
    """
    path = Path(path)
    protect = list(protect)
    mode_flags = {"mode": "wb"} if binary else {"mode": "w", "newline": "", "encoding": "utf-8"}

    def cannot(exc):
        return UsageError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}")

    check_target(path, force=force, protect=protect)
    try:
        mode = os.stat(path).st_mode  # follows links: /dev/stdout is whatever standard output is
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise cannot(exc) from None
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
    try:
        fd, temp = temp_beside(target)
    except OSError as exc:
        raise cannot(exc) from None
    try:
        with os.fdopen(fd, **mode_flags) as out:
            result = write(out)
        check_target(target, force=force, protect=protect)  # the database may have been created meanwhile
        publish(temp, target, force=force)
    except BaseException as exc:
        remove_quietly(temp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise cannot(exc) from None
        raise
    return result


def leftovers(folders: Iterable[Path | str]) -> list[Path]:
    """Temporary files (``.NAME.*.partial``) that a killed export, report or backup left in these folders."""
    found: set[Path] = set()
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except (OSError, ValueError):
            continue
        for entry in entries:
            # SQLite may leave a -journal or -wal beside a backup's temporary copy
            if entry.name.startswith(".") and (entry.name.endswith(TEMP_SUFFIX) or TEMP_SUFFIX + "-" in entry.name):
                found.add(Path(entry.path))
    return sorted(found)
