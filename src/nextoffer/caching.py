"""One small cache for values built per key: LRU eviction, and one builder per key at a time.

Snapshots, catalogs and list results are all "built from the database or a snapshot, kept
while current": they share this mechanism rather than three copies of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BuildCache(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def peek(self, key: Hashable) -> V | None:
        """The cached value (marked recently used), or None."""
        with self._guard:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._guard:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                evicted, _ = self._items.popitem(last=False)
                self._building.pop(evicted, None)

    def get(
        self,
        key: Hashable,
        fresh: Callable[[V], bool],
        build: Callable[[V | None], V],
    ) -> V:
        """The cached value if `fresh`, else one built from the stale one (or None).

        Threads asking for the same key while it is built wait and take the result; threads
        already holding the old value keep using it.
        """
        value = self.peek(key)
        if value is not None and fresh(value):
            return value
        with self._guard:
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            value = self.peek(key)
            if value is None or not fresh(value):
                value = build(value)
                self.put(key, value)
        return value
