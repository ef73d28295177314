"""No rule can stall a node: every string operation's cost is bounded (issue 15).

The attack was a 14 KB ``like`` of many ``%`` against a 1 MB profile attribute (a minute of
RE2 NFA).  These tests bound the *work* -- limits refused at compile time, work units charged,
items and strings read -- never the wall clock.
"""

from __future__ import annotations

from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.pql import PqlLimitError, WorkExceeded, compile_expression, compile_rule, runtime
from nextoffer.pql.limits import (
    MAX_DATETIME_TEXT,
    MAX_LIKE_WILDCARDS,
    MAX_MATCH_INPUT,
    MAX_PATTERN_CHARS,
    MAX_REGEX_PROGRAM,
    MAX_WORK,
    SEARCH_RATE,
)
from nextoffer.pql.patterns import LiteralLike, Regex, like, like_to_regex, regex
from tests.helpers import Api, assert_problem

from .conftest import make_env

ATTACK = "%a" * 7_000 + "%"  # 14 KB, 7,001 wildcards
HUGE = ("b" * 999 + "a") * 1_000  # a 1 MB attribute


# ---- compile time: patterns past the limits are refused, naming the limit ------------------


def test_the_attack_is_refused_at_compile_time() -> None:
    with pytest.raises(PqlLimitError) as info:
        compile_rule(f'x like "{ATTACK}"')
    err = info.value
    assert (err.code, err.line, err.column) == ("pattern_too_long", 1, 8)
    short = "%a" * (MAX_LIKE_WILDCARDS + 2)  # under the length limit, too many wildcards
    with pytest.raises(PqlLimitError) as info:
        compile_rule(f'x like "{short}"')
    assert info.value.code == "too_many_wildcards"
    assert f"at most {MAX_LIKE_WILDCARDS} wildcards" in info.value.message
    assert f"this one has {MAX_LIKE_WILDCARDS + 2}" in info.value.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (f'x like "{"a" * (MAX_PATTERN_CHARS + 1)}"', "pattern_too_long"),
        (f'x.matches("{"a" * (MAX_PATTERN_CHARS + 1)}")', "pattern_too_long"),
        (f'x.regexGroup("{"a" * (MAX_PATTERN_CHARS + 1)}", 0) = "a"', "pattern_too_long"),
        (f'x.like("{"_" * (MAX_LIKE_WILDCARDS + 1)}", false)', "too_many_wildcards"),
        ('x.matches("a{1000}b{1000}")', "pattern_too_complex"),  # 14 characters, 2,000+ steps
        ('x.matches("[\\\\p{L}\\\\p{N}]{1,50}")', "pattern_too_complex"),
    ],
)
def test_pattern_limits(text: str, code: str) -> None:
    with pytest.raises(PqlLimitError) as info:
        compile_rule(text)
    assert info.value.code == code
    assert info.value.column == text.index('"') + 1  # the pattern literal


def test_patterns_at_the_limits_compile() -> None:
    compile_rule(f'x like "{"a" * MAX_PATTERN_CHARS}"')
    compile_rule(f'x like "{"%" * MAX_LIKE_WILDCARDS}"')
    compile_rule(f'x.like("{"_a" * (MAX_LIKE_WILDCARDS // 2)}%", false)')
    compile_rule('x.matches("\\\\p{L}+")')  # 1,201 RE2 instructions: a real-world pattern
    assert regex("\\p{L}+").rate <= MAX_REGEX_PROGRAM


def test_any_allowed_pattern_can_read_any_allowed_ascii_text() -> None:
    """The limits fit together: the most a match may cost is within one evaluation's work."""
    assert (MAX_MATCH_INPUT * MAX_REGEX_PROGRAM) >> 9 < MAX_WORK
    assert (MAX_MATCH_INPUT * SEARCH_RATE) >> 10 < MAX_WORK // 100


# ---- the like matcher: no regex for literal text and % -------------------------------------


def test_a_case_sensitive_percent_only_like_needs_no_regex() -> None:
    for pattern in ("A%", "%com", "%a%b%", "abc", "50\\%%", "a\\_b%", "%"):
        assert isinstance(like(pattern), LiteralLike), pattern
    for pattern, cs in (("a_c", True), ("a%", False)):
        assert isinstance(like(pattern, cs), Regex)
    assert like("%a%b%").rate == SEARCH_RATE and like("A%").rate == like("%com").rate == 0


LIKE_ALPHABET = st.sampled_from(["a", "b", "%", "_", "\\", "\\%", "\\_", "é", "."])


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.lists(LIKE_ALPHABET, max_size=8).map("".join),
    text=st.text(alphabet="ab%_\\é.", max_size=10),
)
def test_the_like_matcher_agrees_with_the_regex_translation(pattern: str, text: str) -> None:
    """The new matcher means what `like` meant when it ran as RE2 (the reference)."""
    reference = re2.fullmatch(like_to_regex(pattern), text, options=_dot_all()) is not None
    assert like(pattern).full(text) is reference, (pattern, text)


def _dot_all() -> Any:
    options = re2.Options()
    options.dot_nl = True
    return options


def test_the_attack_pattern_reads_a_string_once() -> None:
    """Without the compile-time limit, the matcher would still be one pass: each segment's
    search starts where the last one ended, so the text is searched once in total."""
    matcher = LiteralLike(ATTACK.split("%"))
    calls: list[tuple[int, int]] = []

    class Searched(str):
        def find(self, sub: str, start: Any = None, end: Any = None) -> int:
            found = str.find(self, sub, start, end)
            calls.append((start, found))
            return found

    text = Searched(HUGE[:MAX_MATCH_INPUT])
    assert matcher.full(text) is False  # 65 a's in the text, 7,000 in the pattern
    assert len(calls) == 66  # 65 found, then the search that fails
    starts = [s for s, _ in calls]
    assert starts == sorted(starts)  # never back: each search begins after the last match


# ---- run time: a string longer than MAX_MATCH_INPUT matches nothing -------------------------

STRING_TESTS = [
    "x.equals(x)",
    "x.equals(x, false)",
    'x.notEqualTo("a")',
    'x.contains("a")',
    'x.doesNotContain("zz")',
    'x.startsWith("b")',
    'x.doesNotStartWith("zz")',
    'x.endsWith("a")',
    'x.doesNotEndWith("zz")',
    'x like "%a%"',
    'x.like("B%", false)',
    'x.matches("[ab]+")',
    'x.regexGroup("(a)", 1) = "a"',
]


@pytest.mark.parametrize("text", STRING_TESTS)
def test_too_long_strings_match_nothing(text: str) -> None:
    rule = compile_rule(text)
    at_limit = ("b" * 99 + "a") * (MAX_MATCH_INPUT // 100) + "b" * (MAX_MATCH_INPUT % 100) + "a"
    at_limit = at_limit[-MAX_MATCH_INPUT:]
    assert len(at_limit) == MAX_MATCH_INPUT
    assert rule.test(make_env({"x": at_limit}))  # every test above holds for this string
    assert rule.interpret(make_env({"x": at_limit})) is True
    for value in (at_limit + "a", HUGE):  # longer: as if missing, negations included
        assert rule(make_env({"x": value})) is False
        assert rule.interpret(make_env({"x": value})) is False


def test_a_long_regex_group_is_null() -> None:
    group = compile_expression('x.regexGroup("(a+)", 1)')
    assert group(make_env({"x": "bbaab"})) == "aa"
    assert group(make_env({"x": "a" * (MAX_MATCH_INPUT + 1)})) is None


def test_a_long_string_is_no_date_time() -> None:
    rule = compile_rule('t occurs before "2030-01-01T00:00:00Z"')
    runtime.parse_datetime.cache_clear()
    assert rule.test(make_env({"t": "2026-03-15T12:30:00.000000+00:00"}))
    padded = "2026-03-15T12:30:00Z" + " " * MAX_DATETIME_TEXT
    assert not rule.test(make_env({"t": padded}))
    assert not rule.test(make_env({"t": "2026-" + "1" * 1_000_000}))
    cached = runtime.parse_datetime.cache_info().currsize
    assert cached == 1  # the long strings never reached the parse cache


# ---- run time: work is charged by size, so loops over big strings are cut -----------------


def _events(n: int, field: Any) -> list[dict[str, Any]]:
    return [{"i": i, "f": field(i)} for i in range(n)]


class Counted(dict):
    """An event that counts how often a rule reads its field ``f``."""

    reads = 0

    def get(self, key: Any, *default: Any) -> Any:
        if key == "f":
            Counted.reads += 1
        return super().get(key, *default)


LONG = 40_000  # characters in each event's string below


@pytest.mark.parametrize(
    ("condition", "unit_cost"),
    [
        ('b.f.contains("zz")', (LONG * SEARCH_RATE) >> 10),
        ('b.f.contains("zz", false)', (LONG * SEARCH_RATE) >> 10),
        ('b.f like "%zz%"', (LONG * SEARCH_RATE) >> 10),
        ('b.f.matches(".*zz.*")', LONG >> 9),
        ('b.f.regexGroup("(zz)", 1) = "zz"', LONG >> 9),
        ("b.f = a.f and b.i != a.i", LONG >> 12),
        ("b.f < a.f and b.i < 0", LONG >> 12),
        ('(b.f + "x").isNull()', LONG >> 13),
    ],
)
def test_string_work_in_loops_is_bounded(condition: str, unit_cost: int) -> None:
    """Two nested loops over 1,000 events of 40 KB strings: two million string reads
    unbounded (minutes of work); charged by size, the rule gives up after a bounded number."""
    events = [Counted(e) for e in _events(1_000, lambda i: f"{i:05d}" + "y" * (LONG - 5))]
    rule = compile_rule(f"exists a from xEvent where exists b from xEvent where {condition}")
    env = make_env(events=events)
    for run in (rule, rule.test):
        Counted.reads = 0
        assert run(env) in (None, False)  # gave up: null, false as a test
        # each visit reads f once or twice; it may afford MAX_WORK / unit_cost operations
        assert Counted.reads <= 2 * MAX_WORK // unit_cost + 2_000 < 1_000_000
    Counted.reads = 0
    with pytest.raises(WorkExceeded):  # the interpreter stops at the same bound
        rule.interpret(env)


def test_normal_string_work_is_not_cut() -> None:
    events = _events(1_000, lambda i: f"event {i} of a kind")
    rule = compile_rule(
        'exists a from xEvent where a.f.contains("999") and a.f like "%of%" '
        'and a.f.matches(".*kind") and a.f.startsWith("event", false)'
    )
    assert rule(make_env(events=events)) is True
    assert rule.interpret(make_env(events=events)) is True


def test_list_equality_and_lax_paths_pay_for_their_items() -> None:
    big = list(range(5_000))
    events = [{"l": list(big), "o": [{"k": 1}] * 5_000} for _ in range(300)]
    env = make_env(events=events)
    for text in (
        "exists a from xEvent where exists b from xEvent where a.l = b.l and a.l != b.l",
        "exists a from xEvent where exists b from xEvent where b.o.k = 2",
        'exists a from xEvent where exists b from xEvent where b.get("o").k = 2',
        "exists a from xEvent where exists b from xEvent where a.l in [b.o]",
        "exists a from xEvent where exists b from xEvent where b.l.distinct().count() = 0",
    ):
        rule = compile_rule(text)
        assert rule(env) is None, text  # 90,000 pairs x 5,000 items: cut, not run
        with pytest.raises(WorkExceeded):
            rule.interpret(env)
    wide = {str(i): i for i in range(2_000)}
    env = make_env(events=[{"m": wide}] * 1_000)
    for method in ("keys", "values"):
        rule = compile_rule(
            f"exists a from xEvent where exists b from xEvent where b.m.{method}().isNull()"
        )
        assert rule(env) is None  # 2,000 items a visit: cut after 500 of a million visits
        with pytest.raises(WorkExceeded):
            rule.interpret(env)
    assert compile_expression("m.keys().count()")(make_env({"m": {"a": 1}})) == 1


# ---- through HTTP: the library refuses the attack; a decision reads a huge attribute ------


def test_the_library_refuses_the_attack_rule(api: Api) -> None:
    r = api.post(
        "/offer-rules", {"name": "hostile", "condition": {"value": f'note like "{ATTACK}"'}}
    )
    problem = assert_problem(r, 422, "invalid-pql", pointer="/condition/value")
    error = problem["errors"][0]
    assert error["pqlCode"] == "pattern_too_long"
    assert f"limited to {MAX_PATTERN_CHARS:,} characters" in error["message"]
    wild = "%a" * 70 + "%"
    r = api.post("/offer-rules", {"name": "wild", "condition": {"value": f'note like "{wild}"'}})
    error = assert_problem(r, 422, "invalid-pql", pointer="/condition/value")["errors"][0]
    assert error["pqlCode"] == "too_many_wildcards"
    assert api.get("/offer-rules").json()["total"] == 0


def test_a_decision_with_a_huge_attribute_answers(api: Api) -> None:
    rule = api.rule('note like "%a%b%" and note.contains("b")')
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    offer = api.offer(
        [placement],
        selectionConstraint={
            "startDate": "2024-01-01T00:00:00.000+00:00",
            "endDate": "2034-01-01T00:00:00.000+00:00",
            "profileConstraintType": "eligibilityRule",
            "eligibilityRule": rule,
        },
    )
    decision = api.decision([placement], api.collection([offer]), fallback, status="live")

    def offered(note: str) -> str:
        body = {
            "xdm:propositionRequests": [{"xdm:activityId": decision, "xdm:placementId": placement}],
            "xdm:profiles": [
                {
                    "xdm:identityMap": {"Email": [{"xdm:id": "ada@example.com"}]},
                    "xdm:attributes": {"note": note},
                }
            ],
            "xdm:dryRun": True,
        }
        r = api.client.post("/data/core/ods/decisions", json=body, headers=api.headers)
        assert r.status_code == 200, r.text
        [proposition] = r.json()["xdm:propositions"]
        options = proposition.get("xdm:options") or [proposition["xdm:fallback"]]
        return options[0]["xdm:id"]

    assert offered("a then b") == offer
    assert offered(HUGE[: MAX_MATCH_INPUT - 1] + "b") == offer  # long, within the bound
    assert offered(HUGE + "b") == fallback  # 1 MB: past the bound, the rule does not hold
    assert offered("b then a") == fallback
