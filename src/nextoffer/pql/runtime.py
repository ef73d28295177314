"""The semantics of PQL values: helpers that generated code and the interpreter both call.

Every helper is total on data: a missing, null or wrong-typed value yields ``None`` (null) or
``False``, never an exception.  The only exception that leaves this module is
:class:`WorkExceeded`, raised when a rule has spent more work units than ``MAX_WORK`` allows;
the compiled rule turns it into null.

The work budget is the cost model.  A unit is about a microsecond: visiting one collection item
costs one, and every helper whose cost grows with its input's size charges that size first --
string methods by the characters they search or fold, patterns by text x program size
(:mod:`.patterns`), list equality and lax paths by the items they walk, concatenation by the
characters it copies.  Both back ends call these helpers the same way, so they charge alike.

Generated code may reach only the names in :data:`EXPORTS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from .limits import (
    FOLD_RATE,
    MAX_DATETIME_TEXT,
    MAX_MATCH_INPUT,
    MAX_STRING,
    MAX_TOP_N,
    SEARCH_RATE,
)
from .patterns import Pattern, Regex, compile_regex

NUMS = frozenset({int, float})
_SEQ = (list, tuple)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
LIVE_STATUSES = frozenset({"realized", "existing"})


class WorkExceeded(Exception):
    """A rule visited more collection items than one evaluation may."""


def charge(work: list[int], n: int) -> None:
    work[0] -= n
    if work[0] < 0:
        raise WorkExceeded


# ---- paths -------------------------------------------------------------------------------


def lookup(value: Any, key: str, work: list[int] | None = None) -> Any:
    """One path step: a mapping's key (else ``xdm:key``), mapped over the items of a list.

    ``work`` is charged for the list items walked.  Paths from a root (``profile.a.b``) pass
    none: generated code computes each once per evaluation, whatever the data; paths from a
    variable or a computed value run once per item of a loop, so they pay.
    """
    if value.__class__ is dict or isinstance(value, Mapping):
        return value.get(key, value.get("xdm:" + key))
    if isinstance(value, _SEQ):
        if work is not None:
            charge(work, len(value))
        out: list[Any] = []
        for item in value:
            found = lookup(item, key, work)
            if found is None:
                continue
            if isinstance(found, _SEQ):
                out.extend(found)
            else:
                out.append(found)
        return out or None
    return None


def path(value: Any, keys: tuple[str, ...], work: list[int] | None = None) -> Any:
    for key in keys:
        if value is None:
            return None
        value = lookup(value, key, work)
    return value


def get(value: Any, key: Any, work: list[int]) -> Any:
    """``m.get(k)`` with a computed key."""
    return lookup(value, key, work) if key.__class__ is str else None


class _Members(Mapping):
    """``segmentMembership.get(ns)``: audience id -> {"status": ...} for any namespace."""

    __slots__ = ("_segments",)

    def __init__(self, segments: Mapping[str, str]):
        self._segments = segments

    def __getitem__(self, key: str) -> dict[str, str]:
        return {"status": self._segments[key]}

    def __iter__(self):
        return iter(self._segments)

    def __len__(self) -> int:
        return len(self._segments)


class _Namespaces(Mapping):
    __slots__ = ("_members",)

    def __init__(self, segments: Mapping[str, str]):
        self._members = _Members(segments)

    def __getitem__(self, key: str) -> _Members:
        return self._members

    def __iter__(self):
        return iter(("ups",))

    def __len__(self) -> int:
        return 1


def segment_root(segments: Mapping[str, str]) -> Mapping[str, Any]:
    return _Namespaces(segments)


def in_segment(segments: Mapping[str, str], audience: Any) -> bool:
    return audience.__class__ is str and segments.get(audience) in LIVE_STATUSES


def first_event(events: Any) -> Any:
    return events[0] if events else None


# ---- truth, equality, ordering -----------------------------------------------------------


def truth(v: Any) -> bool:
    """Boolean position: null, false, "" and empty collections are false; other values true."""
    if v is True:
        return True
    if v is None or v is False:
        return False
    if isinstance(v, str | list | tuple | Mapping):
        return len(v) > 0
    return True


def test(v: Any) -> bool:
    """Whether a rule's value satisfies it: exactly true, or a non-empty select result."""
    return v is True or (isinstance(v, _SEQ) and len(v) > 0)


@lru_cache(maxsize=8192)
def parse_datetime(text: str) -> datetime | None:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_dt(v: Any) -> datetime | None:
    """A UTC date-time from a datetime or an RFC 3339 / ISO date string; otherwise null."""
    if v.__class__ is datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if v.__class__ is str:
        # No date-time is longer; and the parse cache must not keep megabytes of text alive.
        return parse_datetime(v) if len(v) <= MAX_DATETIME_TEXT else None
    return None


def _family(v: Any) -> str | None:
    c = v.__class__
    if c is str:
        return "s"
    if c in NUMS:
        return "n"
    if c is bool:
        return "b"
    if c is datetime:
        return "d"
    if isinstance(v, _SEQ):
        return "l"
    if isinstance(v, Mapping):
        return "m"
    return None


def _pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Both values in one comparable family, coercing a date-time string against a datetime."""
    if a is None or b is None:
        return None
    fa, fb = _family(a), _family(b)
    if fa is None or fb is None:
        return None
    if fa == fb:
        return a, b
    if (fa == "d" and fb == "s") or (fa == "s" and fb == "d"):
        da, db = to_dt(a), to_dt(b)
        return (da, db) if da is not None and db is not None else None
    return None


def _compare_cost(x: Any, y: Any, work: list[int] | None) -> None:
    """Two long strings compare in time linear in the shorter: a unit per 4 KiB of it."""
    if work is not None and x.__class__ is str and y.__class__ is str:
        n = min(len(x), len(y)) >> 12
        if n:
            charge(work, n)


def eq(a: Any, b: Any, work: list[int] | None = None) -> bool:
    """Equality of one family; lists item by item.  With ``work``, long strings and lists pay
    for what they compare (generated code compares with a literal, rule-sized, for free)."""
    pair = _pair(a, b)
    if pair is None:
        return False
    x, y = pair
    if isinstance(x, _SEQ):
        if len(x) != len(y):
            return False
        if work is not None:
            charge(work, len(x))
        return all(eq(i, j, work) for i, j in zip(x, y, strict=True))
    _compare_cost(x, y, work)
    return x == y


def ne(a: Any, b: Any, work: list[int] | None = None) -> bool:
    pair = _pair(a, b)
    return pair is not None and not eq(pair[0], pair[1], work)


def _ordered(a: Any, b: Any, work: list[int] | None) -> tuple[Any, Any] | None:
    pair = _pair(a, b)
    if pair is None or _family(pair[0]) not in ("s", "n", "d"):
        return None
    _compare_cost(pair[0], pair[1], work)
    return pair


def lt(a: Any, b: Any, work: list[int] | None = None) -> bool:
    pair = _ordered(a, b, work)
    return pair is not None and pair[0] < pair[1]


def le(a: Any, b: Any, work: list[int] | None = None) -> bool:
    pair = _ordered(a, b, work)
    return pair is not None and pair[0] <= pair[1]


def gt(a: Any, b: Any, work: list[int] | None = None) -> bool:
    pair = _ordered(a, b, work)
    return pair is not None and pair[0] > pair[1]


def ge(a: Any, b: Any, work: list[int] | None = None) -> bool:
    pair = _ordered(a, b, work)
    return pair is not None and pair[0] >= pair[1]


COMPARE = {"=": eq, "!=": ne, "<": lt, "<=": le, ">": gt, ">=": ge}


def dt_compare(op: str, a: Any, b: Any) -> bool:
    """Comparison where one side is known to be a date-time: both sides as instants."""
    da, db = to_dt(a), to_dt(b)
    if da is None or db is None:
        return False
    return COMPARE[op](da, db)


def is_in(item: Any, collection: Any, work: list[int]) -> bool:
    if item is None or collection is None:
        return False
    values = items(collection, work)
    charge(work, len(values))
    return any(eq(item, v, work) for v in values)


def not_in(item: Any, collection: Any, work: list[int]) -> bool:
    """Present, comparable with the list's items, and none of them: a wrong-typed or missing
    value is not "not in" anything."""
    if item is None or collection is None:
        return False
    values = items(collection, work)
    charge(work, len(values))
    if values and all(_pair(item, v) is None for v in values):
        return False
    return not any(eq(item, v, work) for v in values)


# ---- arithmetic --------------------------------------------------------------------------


def _number(r: Any) -> Any:
    if r.__class__ is int:
        if _INT_MIN <= r <= _INT_MAX:
            return r
        try:
            r = float(r)
        except OverflowError:
            return None
    return r if math.isfinite(r) else None


def add(a: Any, b: Any, work: list[int] | None = None) -> Any:
    """Numbers add; strings join (at most ``MAX_STRING`` characters, charging ``work`` a unit
    per 8 KiB copied).  Generated code leaves ``work`` out where a side is surely a number."""
    if a.__class__ in NUMS and b.__class__ in NUMS:
        return _number(a + b)
    if a.__class__ is str and b.__class__ is str:
        n = len(a) + len(b)
        if n > MAX_STRING:
            return None
        if n >> 13 and work is not None:  # about 5 us per 64 KiB
            charge(work, n >> 13)
        return a + b
    return None


def sub(a: Any, b: Any) -> Any:
    if a.__class__ in NUMS and b.__class__ in NUMS:
        return _number(a - b)
    return None


def mul(a: Any, b: Any) -> Any:
    if a.__class__ in NUMS and b.__class__ in NUMS:
        return _number(a * b)
    return None


def div(a: Any, b: Any) -> Any:
    if a.__class__ in NUMS and b.__class__ in NUMS and b != 0:
        return _number(a / b)
    return None


def mod(a: Any, b: Any) -> Any:
    """Remainder with the sign of the dividend, as in Java (PQL's host language)."""
    if a.__class__ in NUMS and b.__class__ in NUMS and b != 0:
        if a.__class__ is int and b.__class__ is int:
            r = abs(a) % abs(b)
            return -r if a < 0 else r
        return _number(math.fmod(a, b))
    return None


def neg(a: Any) -> Any:
    return _number(-a) if a.__class__ in NUMS else None


ARITH = {"+": add, "-": sub, "*": mul, "/": div, "%": mod}


# ---- strings -----------------------------------------------------------------------------


def _strs(a: Any, b: Any, cs: bool, work: list[int], rate: int) -> tuple[str, str] | None:
    """Both strings (case-folded unless ``cs``), after charging their cost; None if either is
    not a string or is longer than ``MAX_MATCH_INPUT`` (a string method reads no further, so
    such a value matches nothing, as a missing one does).  ``rate``: units per KiB searched."""
    if a.__class__ is not str or b.__class__ is not str:
        return None
    if len(a) > MAX_MATCH_INPUT or len(b) > MAX_MATCH_INPUT:
        return None
    if not cs:
        rate += FOLD_RATE
    cost = ((len(a) + len(b)) * rate) >> 10
    if cost:
        charge(work, cost)
    return (a, b) if cs else (a.casefold(), b.casefold())


def s_equals(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and p[0] == p[1]


def s_not_equal(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and p[0] != p[1]


def s_contains(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, SEARCH_RATE)
    return p is not None and p[1] in p[0]


def s_not_contains(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, SEARCH_RATE)
    return p is not None and p[1] not in p[0]


def s_starts(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and p[0].startswith(p[1])


def s_not_starts(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and not p[0].startswith(p[1])


def s_ends(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and p[0].endswith(p[1])


def s_not_ends(a: Any, b: Any, cs: bool, work: list[int]) -> bool:
    p = _strs(a, b, cs, work, 0)
    return p is not None and not p[0].endswith(p[1])


def regex(pattern: str, case_sensitive: bool = True) -> Any:
    """Compile with RE2 (linear time, bounded memory); raises ``re2.error`` on a bad pattern."""
    return compile_regex(pattern, case_sensitive)


def _matchable(value: Any, pattern: Pattern, work: list[int]) -> bool:
    """Whether ``value`` is a string a pattern may read, after charging the match's cost."""
    if value.__class__ is not str or len(value) > MAX_MATCH_INPUT:
        return False
    cost = pattern.cost(value)
    if cost:
        charge(work, cost)
    return True


def full_match(value: Any, pattern: Pattern, work: list[int]) -> bool:
    return _matchable(value, pattern, work) and pattern.full(value)


def regex_group(value: Any, pattern: Regex, group: Any, work: list[int]) -> Any:
    if group.__class__ is not int or not 0 <= group <= pattern.groups:
        return None
    if not _matchable(value, pattern, work):
        return None
    m = pattern.search(value)
    return m.group(group) if m is not None else None


# ---- objects and collections -------------------------------------------------------------


def items(v: Any, work: list[int]) -> list[Any] | tuple[Any, ...]:
    """A value as a collection: null is empty, a list is itself, anything else one item."""
    if v is None:
        return ()
    if isinstance(v, _SEQ):
        charge(work, len(v))
        return v
    charge(work, 1)
    return (v,)


def is_null(v: Any) -> bool:
    return v is None


def is_not_null(v: Any) -> bool:
    return v is not None


def count(v: Any, work: list[int]) -> int:
    return sum(1 for x in items(v, work) if x is not None)


def _numbers(v: Any, work: list[int]) -> list[Any]:
    return [x for x in items(v, work) if x.__class__ in NUMS]


def sum_(v: Any, work: list[int]) -> Any:
    total: Any = 0
    for x in _numbers(v, work):
        total = _number(total + x)
        if total is None:
            return None
    return total


def average(v: Any, work: list[int]) -> Any:
    nums = _numbers(v, work)
    total = sum_(nums, work)
    return _number(total / len(nums)) if nums and total is not None else None


def _extreme(v: Any, work: list[int], pick: Callable[..., Any]) -> Any:
    """min/max over the items of the first item's kind (numbers, strings or date-times)."""
    values = [x for x in items(v, work) if x is not None]
    if not values:
        return None
    kind = _family(values[0])
    if kind not in ("n", "s", "d"):
        return None
    same = [x for x in values if _family(x) == kind]
    return pick(same)


def min_(v: Any, work: list[int]) -> Any:
    return _extreme(v, work, min)


def max_(v: Any, work: list[int]) -> Any:
    return _extreme(v, work, max)


def head(v: Any, work: list[int]) -> Any:
    values = items(v, work)
    return values[0] if values else None


def distinct(v: Any, work: list[int]) -> list[Any]:
    out: list[Any] = []
    for x in items(v, work):
        charge(work, len(out))
        if x is not None and not any(eq(x, y, work) for y in out):
            out.append(x)
    return out


def includes(v: Any, x: Any, work: list[int]) -> bool:
    if v is None or x is None:
        return False
    if isinstance(x, _SEQ):
        return superset_of(v, x, work)
    return is_in(x, v, work)


def intersection(a: Any, b: Any, work: list[int]) -> list[Any] | None:
    if a is None or b is None:
        return None
    right = items(b, work)
    out = []
    for x in distinct(a, work):
        charge(work, len(right))
        if any(eq(x, y, work) for y in right):
            out.append(x)
    return out


def intersects(a: Any, b: Any, work: list[int]) -> bool:
    common = intersection(a, b, work)
    return bool(common)


def subset_of(a: Any, b: Any, work: list[int]) -> bool:
    if a is None or b is None:
        return False
    right = items(b, work)
    for x in items(a, work):
        charge(work, len(right))
        if not any(eq(x, y, work) for y in right):
            return False
    return True


def superset_of(a: Any, b: Any, work: list[int]) -> bool:
    return subset_of(b, a, work)


def select(v: Any, pred: Callable[[Any], Any], work: list[int]) -> list[Any]:
    return [x for x in items(v, work) if truth(pred(x))]


def exists(v: Any, pred: Callable[[Any], Any], work: list[int]) -> bool:
    return any(truth(pred(x)) for x in items(v, work))


def forall(v: Any, pred: Callable[[Any], Any], work: list[int]) -> bool:
    return all(truth(pred(x)) for x in items(v, work))


def map_(v: Any, fn: Callable[[Any], Any], work: list[int]) -> list[Any]:
    return [fn(x) for x in items(v, work)]


def group_by(v: Any, fn: Callable[[Any], Any], work: list[int]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for x in items(v, work):
        key = fn(x)
        if key.__class__ in (str, int, float, bool):
            groups.setdefault(key, []).append(x)
    return groups


def _top(v: Any, fn: Callable[[Any], Any], n: Any, work: list[int], desc: bool) -> Any:
    if n.__class__ is not int or n < 0:
        return None
    keyed = []
    kind = None
    for x in items(v, work):
        k = fn(x)
        fam = _family(k)
        if fam not in ("n", "s", "d"):
            continue
        kind = kind or fam
        if fam == kind:
            keyed.append((k, len(keyed), x))
    keyed.sort(key=lambda t: t[0], reverse=desc)
    return [x for _, _, x in keyed[: min(n, MAX_TOP_N)]]


def top_n(v: Any, fn: Callable[[Any], Any], n: Any, work: list[int]) -> Any:
    return _top(v, fn, n, work, True)


def bottom_n(v: Any, fn: Callable[[Any], Any], n: Any, work: list[int]) -> Any:
    return _top(v, fn, n, work, False)


def keys(v: Any, work: list[int]) -> list[Any] | None:
    if not isinstance(v, Mapping):
        return None
    charge(work, len(v))
    return list(v.keys())


def values(v: Any, work: list[int]) -> list[Any] | None:
    if not isinstance(v, Mapping):
        return None
    charge(work, len(v))
    return list(v.values())


# ---- time --------------------------------------------------------------------------------

UNITS = {
    "millisecond": "millisecond", "second": "second", "minute": "minute", "hour": "hour",
    "day": "day", "week": "week", "month": "month", "year": "year", "decade": "decade",
    "century": "century", "centuries": "century", "millennium": "millennium",
    "millennia": "millennium",
}  # fmt: skip
_FIXED = {
    "millisecond": timedelta(milliseconds=1), "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}  # fmt: skip
_MONTHS = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}


def unit_name(word: str) -> str:
    """Canonical unit for a unit word (``days`` -> ``day``, ``centuries`` -> ``century``)."""
    word = word.lower()
    return UNITS.get(word) or UNITS[word[:-1]]


def shift(t: datetime | None, unit: str, n: int) -> datetime | None:
    """``t`` moved by ``n`` units; months and longer are calendar-aware (day clamped)."""
    if t is None:
        return None
    try:
        if unit in _FIXED:
            return t + _FIXED[unit] * n
        months = t.year * 12 + (t.month - 1) + _MONTHS[unit] * n
        year, month = divmod(months, 12)
        month += 1
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
        return t.replace(year=year, month=month, day=min(t.day, days))
    except (OverflowError, ValueError):
        return None


def floor(t: datetime, unit: str) -> datetime:
    """Start of the calendar ``unit`` containing ``t`` (weeks start on Sunday, UTC)."""
    t = t.astimezone(UTC)
    if unit == "millisecond":
        return t.replace(microsecond=t.microsecond // 1000 * 1000)
    if unit == "second":
        return t.replace(microsecond=0)
    if unit == "minute":
        return t.replace(second=0, microsecond=0)
    if unit == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if unit == "month":
        return day.replace(day=1)
    span = {"year": 1, "decade": 10, "century": 100, "millennium": 1000}[unit]
    return day.replace(year=max(1, t.year // span * span), month=1, day=1)


Interval = tuple[datetime, datetime]


def point(v: Any) -> Interval | None:
    t = to_dt(v)
    return None if t is None else (t, t)


def day_of(v: Any) -> Interval | None:
    """The UTC calendar day containing a date-time (how ``date(y,m,d)`` reads in ``occurs``)."""
    t = to_dt(v)
    if t is None:
        return None
    start = floor(t, "day")
    end = shift(start, "day", 1)
    return None if end is None else (start, end)


def time_word(word: str, now: datetime) -> Interval | None:
    if word == "now":
        return (now, now)
    offset = {"today": 0, "yesterday": -1, "tomorrow": 1}[word]
    start = shift(floor(now, "day"), "day", offset)
    end = shift(start, "day", 1)
    return None if start is None or end is None else (start, end)


def time_value(word: str, now: datetime) -> datetime | None:
    """``now``/``today``/... used as a value: the instant, or the day's midnight."""
    iv = time_word(word, now)
    return None if iv is None else iv[0]


def period(rel: str, n: int | None, unit: str, now: datetime) -> Interval | None:
    """``this|last|next unit`` are calendar units; ``last|next n units`` roll from now."""
    if n is not None:
        other = shift(now, unit, -n if rel == "last" else n)
        if other is None:
            return None
        return (other, now) if rel == "last" else (now, other)
    start = floor(now, unit)
    offset = {"this": 0, "last": -1, "next": 1}[rel]
    a, b = shift(start, unit, offset), shift(start, unit, offset + 1)
    return None if a is None or b is None else (a, b)


def occurs_cmp(
    ts: Any, op: str, n: int, unit: str, direction: str, anchor: Interval | None
) -> bool:
    """``ts occurs <op> n unit before|after|from anchor``; ``from`` reads as ``after``."""
    t = to_dt(ts)
    if t is None or anchor is None:
        return False
    a = anchor[0]
    sign = -1 if direction == "before" else 1
    edge = shift(a, unit, sign * n)
    if edge is None:
        return False
    if op in ("=", "!="):
        nxt = shift(edge, unit, 1)
        inside = nxt is not None and edge <= t < nxt
        return inside if op == "=" else not inside
    if sign < 0:  # before: distance = a - t
        if op == "<":
            return edge < t <= a
        if op == "<=":
            return edge <= t <= a
        if op == ">":
            return t < edge
        return t <= edge  # >=
    if op == "<":
        return a <= t < edge
    if op == "<=":
        return a <= t <= edge
    if op == ">":
        return t > edge
    return t >= edge  # >=


def occurs_dir(ts: Any, direction: str, when: Interval | None) -> bool:
    t = to_dt(ts)
    if t is None or when is None:
        return False
    start, end = when
    if direction == "before":
        return t < start
    return t > end if start == end else t >= end


def occurs_on(ts: Any, when: Interval | None) -> bool:
    t = to_dt(ts)
    if t is None or when is None:
        return False
    start, end = when
    if start == end:
        day = day_of(start)
        return day is not None and day[0] <= t < day[1]
    return start <= t < end


def occurs_between(ts: Any, first: Interval | None, last: Interval | None) -> bool:
    t = to_dt(ts)
    if t is None or first is None or last is None:
        return False
    start, end = first[0], last[1]
    return start <= t <= end if last[0] == last[1] else start <= t < end


def get_month(v: Any) -> int | None:
    t = to_dt(v)
    return None if t is None else t.month


def get_year(v: Any) -> int | None:
    t = to_dt(v)
    return None if t is None else t.year


def get_day_of_month(v: Any) -> int | None:
    t = to_dt(v)
    return None if t is None else t.day


def date_value(y: int, m: int, d: int) -> datetime:
    """``date(y,m,d)``: midnight UTC of that day (raises ValueError if there is no such day)."""
    return datetime(y, m, d, tzinfo=UTC)


def utc(now: datetime) -> datetime:
    """The injected clock's "now" as an aware UTC datetime."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


# Names generated code may reference, each bound to a helper above.  The code generator
# refuses any other global name.
_EXPORTED = (
    "lookup",
    "path",
    "get",
    "segment_root",
    "in_segment",
    "first_event",
    "truth",
    "test",
    "to_dt",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "dt_compare",
    "is_in",
    "not_in",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "neg",
    "s_equals",
    "s_not_equal",
    "s_contains",
    "s_not_contains",
    "s_starts",
    "s_not_starts",
    "s_ends",
    "s_not_ends",
    "full_match",
    "regex_group",
    "items",
    "is_null",
    "is_not_null",
    "count",
    "sum_",
    "average",
    "min_",
    "max_",
    "head",
    "distinct",
    "includes",
    "intersection",
    "intersects",
    "subset_of",
    "superset_of",
    "select",
    "exists",
    "forall",
    "map_",
    "group_by",
    "top_n",
    "bottom_n",
    "keys",
    "values",
    "shift",
    "point",
    "day_of",
    "time_word",
    "time_value",
    "period",
    "occurs_cmp",
    "occurs_dir",
    "occurs_on",
    "occurs_between",
    "get_month",
    "get_year",
    "get_day_of_month",
    "utc",
    "NUMS",
)
EXPORTS: dict[str, Any] = {name: globals()[name] for name in _EXPORTED}
