"""Progress of long library work: front ends pass ``progress(stage, total)``, the work reports through ``bar``.

``progress`` returns a context manager with ``update(n)``, such as ``click.progressbar``; the library never
knows whether a terminal is watching. ``ipt import`` uses the same protocol (``exchange.importing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

Progress = Optional[Callable[[str, int], Any]]


class _Silent:
    """What ``bar`` gives when nobody asked for progress: every update is a no-op."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def update(self, n: int) -> None:
        pass


def bar(progress: Progress, stage: str, total: int):
    """A context manager with ``update(n)``: ``progress(stage, total)``, or a silent one without ``progress``."""
    return progress(stage, total) if progress is not None else _Silent()
