"""Compiled rules cached by the sha256 of (kind, aliases, text).

A catalog rebuild recompiles only rules whose text changed.  A small LRU guarded by a lock:
compiling is pure, so two threads racing on one miss just compile twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from .compiled import Compiled, cache_key, compile_text

MAX_ENTRIES = 10_000

_entries: OrderedDict[str, Compiled] = OrderedDict()
_lock = threading.Lock()


def compile_cached(text: str, kind: str = "rule", aliases: Iterable[str] = ()) -> Compiled:
    """Like compile_rule/compile_formula, reusing an earlier compile of the same text."""
    names = tuple(sorted(set(aliases)))
    key = cache_key(kind, names, text)
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
            return hit
    compiled = compile_text(text, kind, names)
    with _lock:
        _entries[key] = compiled
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return compiled


def clear_cache() -> None:
    with _lock:
        _entries.clear()
