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
import re
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
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

MISSING = object()


def resolve(doc: Any, path: Sequence[str]) -> list[Any]:
    """Every value `path` reaches in `doc`; arrays met on the way are walked item by item."""
    nodes = [doc]
    for segment in path:
        nxt = []
        for node in nodes:
            if isinstance(node, Mapping):
                value = node.get(segment, MISSING)
                if value is not MISSING:
                    nxt.append(value)
            elif isinstance(node, list):
                for item in node:
                    if isinstance(item, Mapping) and segment in item:
                        nxt.append(item[segment])
        if not nxt:
            return []
        nodes = nxt
    return nodes


def _scalars(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        else:
            yield value


@dataclass(frozen=True, slots=True)
class _Operand:
    """A filter value, parsed once for each way it may be compared."""

    text: str
    number: float | None
    boolean: bool | None
    instant: datetime | None

    @classmethod
    def parse(cls, text: str) -> _Operand:
        number = float(text) if _NUMBER.match(text) else None
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
        if operand.number is not None and _NUMBER.match(value):
            return cmp(float(value), operand.number)
        if operand.instant is not None:
            instant = instant_or_none(value)
            if instant is not None:
                return cmp(instant, operand.instant)
        return cmp(value, operand.text)
    return False


@dataclass(frozen=True, slots=True)
class Filter:
    """One `property` expression, ready to test documents."""

    text: str
    path: tuple[str, ...]
    op: str | None
    operand: _Operand | None
    negated: bool
    pattern: Any = None

    def matches(self, doc: Doc) -> bool:
        return self._test(doc) != self.negated

    def _test(self, doc: Doc) -> bool:
        reached = resolve(doc, self.path)
        if self.op is None:
            return any(v is not None for v in reached)
        values = _scalars(reached)
        if self.op == "~":
            return any(
                self.pattern.fullmatch(_as_text(v)) is not None for v in values if v is not None
            )
        if self.op == "!=":
            assert self.operand is not None
            return not any(_compare("==", v, self.operand) for v in values)
        assert self.operand is not None
        return any(_compare(self.op, v, self.operand) for v in values)


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
    return Filter(expr, tuple(field.split(".")), op, operand, bool(neg), pattern)


@dataclass(frozen=True, slots=True)
class SortKey:
    path: tuple[str, ...]
    descending: bool

    def value(self, doc: Doc) -> tuple[int, Any]:
        """A totally ordered key: numbers, then strings, then missing (nulls last ascending)."""
        for v in _scalars(resolve(doc, self.path)):
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


def sort_documents(
    docs: Iterable[Doc], order: Sequence[SortKey], filters: Sequence[Filter]
) -> list[Ranked]:
    """Matching documents with their sort keys, in page order (ties broken by id)."""
    ranked: list[Ranked] = [
        (tuple(k.value(d) for k in order), d.get("id", ""), d)
        for d in docs
        if all(f.matches(d) for f in filters)
    ]
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
