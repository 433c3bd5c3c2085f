"""Bulk work (an import, the demo's records) with the cyclic garbage collector kept out of the way."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

# Container objects allocated (net) between two youngest-generation collections during bulk work. The default,
# 700, runs a collection every few records of an import: about a tenth of `ipt import`'s time went there
# (benchmarks/run.py --only import). Each record's dicts and lists are freed by reference counting as soon as
# its batch is written; only cycles wait for the collector, and bulk work makes hardly any.
BULK_THRESHOLD = 50_000


@contextmanager
def bulk_collection() -> Iterator[None]:
    """Within: what was alive before is frozen (a full collection no longer walks the caller's data, such as
    100,000 records held in a list), and young collections run every :data:`BULK_THRESHOLD` allocations.
    Restored on leaving, however the block ends. Nested, or with the collector already managed by the
    program (disabled, or objects frozen), it changes nothing."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], BULK_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
