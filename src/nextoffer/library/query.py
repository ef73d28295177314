"""List queries over documents: `property` filters, `orderby`, keyset cursors, pages.

The grammar is Adobe's (`[!]field[op]value`, ops `== != <= >= < > ~`, repeated or comma-joined,
AND-ed; a bare field means "has it"; `~` is a full-match, case-insensitive regex), with the
semantics DESIGN.md §3 settles: values compare as numbers, then date-times, then strings; a path
that crosses an array looks at every item. Queries run over in-memory snapshots (pure Python,
the same on every database), which keeps one set of semantics and one test suite for both.
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import re2

from nextoffer.errors import InvalidInput
from nextoffer.timeutil import instant_or_none

Doc = Mapping[str, Any]

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_ORDER = "-modified"

_OPS = ("==", "!=", "<=", ">=", "<", ">", "~")
_SEGMENT = r"[\w:@$-]+"
_EXPR = re.compile(rf"^(!?)({_SEGMENT}(?:\.{_SEGMENT})*)(?:(==|!=|<=|>=|<|>|~)(.*))?$", re.S)
_EXPR_START = re.compile(rf"^!?{_SEGMENT}(?:\.{_SEGMENT})*(?:==|!=|<=|>=|<|>|~|$)")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
"""Matched whole (`fullmatch`: `$` would let a final newline in)."""

MISSING = object()


@dataclass(frozen=True, slots=True)
class Reached:
    """What a path reaches in one document: its leaf values, and whether it is there at all.

    Arrays met on the way are walked item by item, and an array at the end contributes its
    items, so `tags==t1` and `representations.placement==p1` test every element.
    """

    values: tuple[Any, ...]
    exists: bool


NOTHING = Reached((), False)


def reach(doc: Any, path: Sequence[str]) -> Reached:
    node = doc
    for i, segment in enumerate(path):  # fast path: a chain of objects
        if isinstance(node, Mapping):
            node = node.get(segment, MISSING)
            if node is MISSING:
                return NOTHING
        elif isinstance(node, list):
            return _reach_many(node, path[i:])
        else:
            return NOTHING
    if isinstance(node, list):
        return Reached(tuple(node), True)
    return Reached((node,), node is not None)


def _reach_many(nodes: list[Any], path: Sequence[str]) -> Reached:
    for segment in path:
        nxt = []
        for node in nodes:
            items = node if isinstance(node, list) else (node,)
            for item in items:
                if isinstance(item, Mapping) and segment in item:
                    nxt.append(item[segment])
        if not nxt:
            return NOTHING
        nodes = nxt
    values: list[Any] = []
    for node in nodes:
        if isinstance(node, list):
            values.extend(node)
        else:
            values.append(node)
    return Reached(tuple(values), any(n is not None for n in nodes))


@dataclass(frozen=True, slots=True)
class _Operand:
    """A filter value, parsed once for each way it may be compared."""

    text: str
    number: float | None
    boolean: bool | None
    instant: datetime | None

    @classmethod
    def parse(cls, text: str) -> _Operand:
        number = float(text) if _NUMBER.fullmatch(text) else None
        low = text.lower()
        boolean = True if low == "true" else False if low == "false" else None
        return cls(text, number, boolean, instant_or_none(text))


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def _compare(op: str, value: Any, operand: _Operand) -> bool:
    """Does `value <op> operand` hold? Numbers, then date-times, then strings (DESIGN.md §3)."""
    cmp = _CMP[op]
    if isinstance(value, bool):
        return operand.boolean is not None and cmp(value, operand.boolean)
    if isinstance(value, int | float):
        return operand.number is not None and cmp(value, operand.number)
    if isinstance(value, str):
        if operand.number is not None and _NUMBER.fullmatch(value):
            return cmp(float(value), operand.number)
        if operand.instant is not None:
            instant = instant_or_none(value)
            if instant is not None:
                return cmp(instant, operand.instant)
        return cmp(value, operand.text)
    return False


@dataclass(frozen=True, slots=True)
class Filter:
    """One `property` expression, ready to test documents (or columns of reached values)."""

    text: str
    path: tuple[str, ...]
    test: Callable[[Reached], bool]
    """Does the expression, negation included, hold for what the path reached?"""

    def matches(self, doc: Doc) -> bool:
        return self.test(reach(doc, self.path))


_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _make_test(
    op: str | None, operand: _Operand | None, pattern: Any, negated: bool
) -> Callable[[Reached], bool]:
    """A predicate specialised for the operator and operand, as lists test it for every item."""
    test: Callable[[Reached], bool]
    if op is None:

        def test(r: Reached) -> bool:
            return r.exists

    elif op == "~":
        memo: dict[Any, bool] = {}  # RE2's Python binding is slow; values repeat a lot

        def matches(v: Any) -> bool:
            key = (v.__class__, v)
            hit = memo.get(key)
            if hit is None:
                hit = memo[key] = pattern.fullmatch(_as_text(v)) is not None
                if len(memo) > 100_000:
                    memo.clear()
            return hit

        def test(r: Reached) -> bool:
            return any(matches(v) for v in r.values if v is not None)

    else:
        assert operand is not None
        plain = operand.number is None and operand.boolean is None and operand.instant is None
        if op in ("==", "!=") and plain:
            text = operand.text  # only a string equal to the text can be equal

            def equal(r: Reached) -> bool:
                return text in r.values

        elif op in _ORDERING and (operand.number is not None or plain):
            # the common cases inline: a number against numbers, a string against strings
            cmp, number, fast = _ORDERING[op], operand.number, (int, float) if not plain else (str,)
            bound = operand.text if plain else number

            def equal(r: Reached) -> bool:
                for v in r.values:
                    if v.__class__ in fast:
                        if cmp(v, bound):
                            return True
                    elif _compare(op, v, operand):
                        return True
                return False

        else:
            cmp_op = "==" if op == "!=" else op

            def equal(r: Reached) -> bool:
                return any(_compare(cmp_op, v, operand) for v in r.values)

        if op == "!=":

            def test(r: Reached) -> bool:
                return not equal(r)

        else:
            test = equal
    if negated:
        positive = test

        def test(r: Reached) -> bool:
            return not positive(r)

    return test


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def split_expressions(raw: str) -> list[str]:
    """Split a comma-joined `property` value; a comma inside a value (`id~a{1,3}`) stays."""
    parts: list[str] = []
    for piece in raw.split(","):
        if parts and not _EXPR_START.match(piece):
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return parts


def parse_filters(raw_values: Iterable[str]) -> tuple[Filter, ...]:
    """Parse every `property` parameter; bad syntax is a 400 naming the expression."""
    out = []
    for raw in raw_values:
        for expr in split_expressions(raw):
            out.append(parse_filter(expr))
    return tuple(out)


def parse_filter(expr: str) -> Filter:
    m = _EXPR.match(expr)
    if not m:
        raise InvalidInput.at(
            f"bad filter {expr!r}: expected [!]field[op value] with op one of "
            f"{' '.join(_OPS)}, e.g. name==Sneakers or !description",
            parameter="property",
            code="bad-filter",
        )
    neg, field, op, value = m.groups()
    pattern = None
    operand = None
    if op == "~":
        try:
            options = re2.Options()
            options.case_sensitive = False
            pattern = re2.compile(value, options)
        except re2.error as exc:
            raise InvalidInput.at(
                f"bad filter {expr!r}: {value!r} is not a valid regular expression ({exc})",
                parameter="property",
                code="bad-filter",
            ) from None
    elif op is not None:
        operand = _Operand.parse(value)
    return Filter(expr, tuple(field.split(".")), _make_test(op, operand, pattern, bool(neg)))


@dataclass(frozen=True, slots=True)
class SortKey:
    path: tuple[str, ...]
    descending: bool

    def value(self, doc: Doc) -> tuple[int, Any]:
        return sort_value(reach(doc, self.path))


def sort_value(reached: Reached) -> tuple[int, Any]:
    """A totally ordered key: numbers, then strings, then missing (nulls last ascending)."""
    for v in reached.values:
        if isinstance(v, bool):
            return (0, int(v))
        if isinstance(v, int | float):
            return (0, v)
        if isinstance(v, str):
            return (1, v)
        break
    return (2, "")


def parse_orderby(raw: str | None) -> tuple[SortKey, ...]:
    text = DEFAULT_ORDER if raw is None or not raw.strip() else raw
    keys = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if not name or not re.fullmatch(rf"{_SEGMENT}(?:\.{_SEGMENT})*", name):
            raise InvalidInput.at(
                f"bad orderby {raw!r}: expected a comma-separated list of field paths, each "
                "optionally prefixed with - (descending) or + (ascending)",
                parameter="orderby",
                code="bad-orderby",
            )
        keys.append(SortKey(tuple(name.split(".")), descending))
    return tuple(keys)


def order_text(keys: Sequence[SortKey]) -> str:
    return ",".join(("-" if k.descending else "") + ".".join(k.path) for k in keys)


_KEY_TYPES = {0: (int, float), 1: (str,), 2: (str,)}


@dataclass(frozen=True, slots=True)
class Cursor:
    """A keyset position: the sort values and id of one item, and which side of it to read.

    `side` is `after` (next pages), `before` (previous pages) or `through` (the page ending
    with the item itself, used to step back from past the end).
    """

    order: str
    keys: tuple[tuple[int, Any], ...]
    id: str
    side: str

    def encode(self) -> str:
        payload = {"o": self.order, "k": self.keys, "i": self.id, "s": self.side}
        return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, parameter: str = "start") -> Cursor:
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            keys = tuple((rank, value) for rank, value in data["k"])
            for rank, value in keys:
                if rank not in _KEY_TYPES or isinstance(value, bool):
                    raise ValueError
                if not isinstance(value, _KEY_TYPES[rank]):
                    raise ValueError
            if data["s"] not in ("after", "before", "through"):
                raise ValueError
            return cls(str(data["o"]), keys, str(data["i"]), data["s"])
        except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise InvalidInput.at(
                f"{parameter} is not a paging cursor of this API; follow _links.next.href "
                "or _links.prev.href from a list response",
                parameter=parameter,
                code="bad-cursor",
            ) from None


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    order: tuple[SortKey, ...] = (SortKey(("modified",), True),)
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Doc]
    total: int
    next_cursor: str | None
    prev_cursor: str | None


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput.at(
            f"limit must be an integer from 1 to {MAX_LIMIT}, not {raw!r}",
            parameter="limit",
            code="bad-limit",
        )
    return int(raw)


Ranked = tuple[tuple[tuple[int, Any], ...], str, Doc]


_KEPT = 256
"""Filter masks a table keeps (one byte per document each)."""


class DocTable:
    """The documents of one kind at one revision, with per-path columns and filter results.

    A snapshot never changes, so what one query computes (what a path reaches in each
    document, which documents a filter keeps) serves every later query on that revision:
    filtering and sorting 10,000 documents becomes a few passes over lists.
    """

    def __init__(self, docs: Iterable[Doc]) -> None:
        self.docs = list(docs)
        self.ids = [d.get("id", "") for d in self.docs]
        self._columns: dict[tuple[str, ...], list[Reached]] = {}
        self._keys: dict[tuple[str, ...], list[tuple[int, Any]]] = {}
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def column(self, path: tuple[str, ...]) -> list[Reached]:
        col = self._columns.get(path)
        if col is None:
            col = self._columns[path] = [reach(d, path) for d in self.docs]
        return col

    def sort_column(self, path: tuple[str, ...]) -> list[tuple[int, Any]]:
        keys = self._keys.get(path)
        if keys is None:
            keys = self._keys[path] = [sort_value(r) for r in self.column(path)]
        return keys

    def kept(self, f: Filter) -> bytes | None:
        """One byte per document (does the filter keep it?), once a filter has come back.

        A filter is run over the documents the other filters left, until it comes back while
        still among the last `_KEPT` filters seen: then it is run over all of them and the
        result is kept. Filters that recur less often than the cache can hold (every query
        with a new bound) would otherwise cost a full pass each time and never be reused.
        """
        with self._lock:
            mask = self._kept.get(f.text)
            if mask is not None:
                self._kept.move_to_end(f.text)
                return mask
            recent = f.text in self._seen
            self._seen[f.text] = None
            self._seen.move_to_end(f.text)
            while len(self._seen) > _KEPT:
                self._seen.popitem(last=False)
        if not recent:
            return None
        mask = bytes(map(f.test, self.column(f.path)))
        with self._lock:
            self._kept[f.text] = mask
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
        return mask

    def rank(self, order: Sequence[SortKey], filters: Sequence[Filter]) -> list[Ranked]:
        """Matching documents with their sort keys, in page order (ties broken by id)."""
        masks, fresh = [], []
        for f in filters:
            mask = self.kept(f)
            if mask is None:
                fresh.append(f)
            else:
                masks.append(mask)
        chosen: Iterable[int] = range(len(self.docs))
        for mask in sorted(masks, key=sum):
            chosen = [i for i in chosen if mask[i]]
        for f in fresh:
            col, test = self.column(f.path), f.test
            chosen = [i for i in chosen if test(col[i])]
        columns = [self.sort_column(k.path) for k in order]
        ids, docs = self.ids, self.docs
        ranked: list[Ranked] = [(tuple(c[i] for c in columns), ids[i], docs[i]) for i in chosen]
        ranked.sort(key=lambda r: r[1])
        for i in range(len(order) - 1, -1, -1):
            ranked.sort(key=lambda r, i=i: r[0][i], reverse=order[i].descending)
        return ranked


def _side(item: Ranked, cursor: Cursor, order: Sequence[SortKey]) -> int:
    """-1, 0 or 1: is `item` before, at or after the cursor position in page order?"""
    for key, mine, theirs in zip(order, item[0], cursor.keys, strict=True):
        if mine != theirs:
            less = mine < theirs
            return (1 if less else -1) if key.descending else (-1 if less else 1)
    if item[1] == cursor.id:
        return 0
    return -1 if item[1] < cursor.id else 1


def _first_index(
    ranked: list[Ranked], cursor: Cursor, order: Sequence[SortKey], strict: bool
) -> int:
    """The first index whose item is after the cursor (`strict`) or at/after it."""
    lo, hi = 0, len(ranked)
    while lo < hi:
        mid = (lo + hi) // 2
        side = _side(ranked[mid], cursor, order)
        if side > 0 or (side == 0 and not strict):
            hi = mid
        else:
            lo = mid + 1
    return lo


def paginate(ranked: list[Ranked], query: ListQuery) -> Page:
    """Cut one page from sorted documents, with cursors for the pages around it."""
    order, limit, cursor = query.order, query.limit, query.cursor
    text = order_text(order)
    if cursor is not None and (cursor.order != text or len(cursor.keys) != len(order)):
        raise InvalidInput.at(
            f"this cursor was made for orderby={cursor.order}; keep the orderby of the first page",
            parameter="start",
            code="bad-cursor",
        )
    if cursor is None:
        start, end = 0, min(len(ranked), limit)
    elif cursor.side == "after":
        start = _first_index(ranked, cursor, order, strict=True)
        end = min(len(ranked), start + limit)
    else:
        end = _first_index(ranked, cursor, order, strict=cursor.side == "through")
        start = max(0, end - limit)
    page = ranked[start:end]
    next_cursor = prev_cursor = None
    if page and end < len(ranked):
        last = page[-1]
        next_cursor = Cursor(text, last[0], last[1], "after").encode()
    if page and start > 0:
        first = page[0]
        prev_cursor = Cursor(text, first[0], first[1], "before").encode()
    elif not page and ranked and start > 0:
        # past the end: step back to the last page
        last = ranked[-1]
        prev_cursor = Cursor(text, last[0], last[1], "through").encode()
    return Page([r[2] for r in page], len(ranked), next_cursor, prev_cursor)
