"""Garbage-collector tactics for long-lived, acyclic data (snapshots, catalogs, tables).

A library snapshot or a Catalog is hundreds of thousands of small objects that live until the
next revision and hold no reference cycles. CPython's cyclic collector would rescan them again
and again: while they are built (each allocation burst triggers a collection of the whole
heap), and afterwards (full collections stall requests for tens of milliseconds).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection while a large acyclic structure is being built."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle_long_lived() -> None:
    """Move everything alive now out of the collector's sight (`gc.freeze`).

    Reference counting still frees these objects when a newer snapshot replaces them; freezing
    only spares the collector from scanning them again and again.
    """
    gc.freeze()
