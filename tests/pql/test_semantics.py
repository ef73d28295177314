"""Each operator and function family, evaluated by both back ends (see conftest.both)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nextoffer.pql import compile_formula, compile_rule

from .conftest import both, holds, make_env

P = {
    "age": 30,
    "score": 2.5,
    "zero": 0,
    "name": "Ada",
    "empty": "",
    "flag": True,
    "off": False,
    "nothing": None,
    "tags": ["gold", "vip", "gold"],
    "nums": [3, 1, 2],
    "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}, "birthDate": "1990-06-15"},
    "orders": [
        {"id": "o1", "amount": 120, "sku": "A", "at": "2026-03-01T10:00:00Z"},
        {"id": "o2", "amount": 40, "sku": "B", "at": "2026-02-01T10:00:00Z"},
        {"id": "o3", "amount": 75, "sku": "A"},
    ],
    "xdm:prefixed": "yes",
    "homeAddress": {"city": "Paris"},
    "prefs": {"color": "blue", "size": "M"},
}

# (text, expected value) evaluated against profile P.
CASES: list[tuple[str, Any]] = [
    # literals and paths
    ("1 + 2", 3),
    ('"a\\"b\\\\c\\n"', 'a"b\\c\n'),
    ('"caf\\u00e9"', "café"),
    ('"it\\\'s"', "it's"),
    ("true", True),
    ("[1, 2, 3]", [1, 2, 3]),
    ("age", 30),
    ("profile.age", 30),
    ("$1.age", 30),
    ("person.name.firstName", "Ada"),
    ("profile.person.name.lastName", "Lovelace"),
    ("prefixed", "yes"),  # the `xdm:` prefix is optional
    ("missing.deeply.nested", None),
    ("name.first", None),  # a path through a string is null, not an error
    ("orders.amount", [120, 40, 75]),  # lax paths map over lists
    ("orders.at", ["2026-03-01T10:00:00Z", "2026-02-01T10:00:00Z"]),
    ('prefs.get("color")', "blue"),
    ("prefs.keys()", ["color", "size"]),
    ("prefs.values()", ["blue", "M"]),
    ("prefs.get(name)", None),
    # comparison
    ("age = 30", True),
    ("age != 30", False),
    ("age > 29.5", True),
    ("18 <= age", True),
    ("score < 3", True),
    ('name = "Ada"', True),
    ('name != "Bob"', True),
    ('name < "B"', True),
    ("flag = true", True),
    ("off = false", True),
    ("flag != false", True),
    ("age = zero", False),
    ("zero = 0", True),
    ("flag = 1", False),  # booleans are not numbers
    ("nums = [3, 1, 2]", True),
    ("person.birthDate < date(2000, 1, 1)", True),
    ('person.birthDate = "1990-06-15"', True),
    # null and missing: comparisons false, isNull true, arithmetic null
    ("missing = 1", False),
    ("missing != 1", False),
    ('missing != "x"', False),
    ("missing > 1", False),
    ("nothing.isNull()", True),
    ("missing.isNull()", True),
    ("age.isNull()", False),
    ("missing.isNotNull()", False),
    ("missing + 1", None),
    ("age + missing", None),
    ("not missing", True),
    ("!missing", True),
    ("not name", False),  # a present value counts as true
    ("not empty", True),  # "" counts as false
    ("missing in [1, 2]", False),
    ("missing notIn [1, 2]", False),
    ('missing.equals("x")', False),
    ('missing.doesNotContain("x")', False),
    ("if(missing, 1, 2)", 2),
    ("missing.count()", 0),
    ("missing.sum()", 0),
    ("missing.average()", None),
    ("missing.max()", None),
    ("missing.head()", None),
    # wrong-typed data: never an error, just false or null
    ('age.startsWith("3")', False),
    ("name > 3", False),
    ('age = "30"', False),
    ("name * 2", None),
    ("name.getYear()", None),
    # boolean
    ('age > 18 and name = "Ada"', True),
    ('age > 18 AND name = "Bob"', False),
    ('age < 18 or name = "Ada"', True),
    ("age < 18 OR missing = 1", False),
    ("not(age > 18)", False),
    ("!(age > 18) or flag", True),
    ("not age > 40 and flag", True),  # not binds looser than comparisons, tighter than and
    # arithmetic
    ("age * 2 + 1", 61),
    ("age - 2 * 3", 24),
    ("(age - 2) * 3", 84),
    ("age / 4", 7.5),
    ("age % 7", 2),
    ("-age % 7", -2),  # Java-style remainder keeps the dividend's sign
    ("age / 0", None),
    ("age % 0", None),
    ("-score", -2.5),
    ("- -age", 30),
    ('name + " " + person.name.lastName', "Ada Lovelace"),
    ("999999999999999999 * 100", 1e20),  # overflowing integers turn float
    # if
    ('if(age > 18, "adult", "minor")', "adult"),
    ("if(age < 18, 1, if(age < 65, 2, 3))", 2),
    ("if(flag, age, missing)", 30),
    # strings
    ('name.equals("ada")', False),
    ('name.equals("ada", false)', True),
    ('name.equals("ada", true)', False),
    ('name.notEqualTo("ada")', True),
    ('name.notEqualTo("ada", false)', False),
    ('name.contains("d")', True),
    ('name.contains("D", false)', True),
    ('name.doesNotContain("z")', True),
    ('name.startsWith("A")', True),
    ('name.startsWith("a")', False),
    ('name.startsWith("a", false)', True),
    ('name.doesNotStartWith("B")', True),
    ('name.endsWith("da")', True),
    ('name.endsWith("DA", false)', True),
    ('name.doesNotEndWith("da")', False),
    ('name like "A%"', True),
    ('name like "_d_"', True),
    ('name like "a%"', False),
    ('name.like("a%", false)', True),
    ('"50%" like "50\\\\%"', True),
    ('"50x" like "50\\\\%"', False),
    ('name.matches("A[a-z]+")', True),
    ('name.matches("d")', False),  # matches is a whole-string match
    ('name.matches("a.*", false)', True),
    ('person.name.lastName.regexGroup("(L)(o+)", 2)', "o"),
    ('name.regexGroup("(z)", 1)', None),
    ('name.regexGroup("(A)", 5)', None),
    # in / notIn
    ('name in ["Ada", "Bob"]', True),
    ('name notIn ["Ada", "Bob"]', False),
    ("age in [1, 30]", True),
    ("age in [1.0, 30.0]", True),
    ("flag in [1]", False),
    ('age in ["30"]', False),
    ("name in tags", False),
    ('"vip" in tags', True),
    ('"vip" notIn tags', False),
    ("2 in nums", True),
    ("age in (select o from orders where o.amount > 100).amount", False),
    ("120 in (select o from orders where o.amount > 100).amount", True),
    ("120 in orders.amount", True),
    # collections
    ("tags.count()", 3),
    ("tags.distinct()", ["gold", "vip"]),
    ("tags.distinct().count()", 2),
    ("nums.sum()", 6),
    ("nums.average()", 2.0),
    ("nums.min()", 1),
    ("nums.max()", 3),
    ("tags.max()", "vip"),
    ("nums.head()", 3),
    ("[].head()", None),
    ("[].count()", 0),
    ('tags.includes("vip")', True),
    ('tags.includes(["vip", "gold"])', True),
    ('tags.includes("nope")', False),
    ('tags.intersects(["vip", "x"])', True),
    ('tags.intersects(["x"])', False),
    ('tags.intersection(["vip", "x", "gold"])', ["gold", "vip"]),
    ('["gold"].subsetOf(tags)', True),
    ('tags.subsetOf(["gold"])', False),
    ('tags.supersetOf(["gold", "vip"])', True),
    ("[].subsetOf(tags)", True),
    ("missing.intersects(tags)", False),
    ("nums.filter(n => n > 1)", [3, 2]),
    ("nums.map(n => n * 10)", [30, 10, 20]),
    ("orders.map(o => o.amount).sum()", 235),
    ('orders.filter(o => o.sku = "A").count()', 2),
    ("orders.topN(amount, 2).map(o => o.id)", ["o1", "o3"]),
    ("orders.bottomN(o => o.amount, 1).head().id", "o2"),
    ("orders.topN(o => o.missing, 2)", []),
    ("orders.groupBy(o => o.sku).keys()", ["A", "B"]),
    ('orders.groupBy(o => o.sku).get("A").count()', 2),
    # select / exists / forall
    ("select o from orders where o.amount > 50", [P["orders"][0], P["orders"][2]]),
    ("(select o from orders where o.amount > 50).count()", 2),
    ("(select o: orders where o.amount > 500).count()", 0),
    ("select t from tags", ["gold", "vip", "gold"]),
    ("exists o from orders where o.amount > 100", True),
    ("exists o from orders where o.amount > 500", False),
    ("forall o from orders where o.amount > 10", True),
    ('forall o from orders where o.sku = "A"', False),
    ("forall o from missing where o.x = 1", True),  # vacuous truth over nothing
    ("exists o from missing where o.x = 1", False),
    ('exists o from orders where exists t from tags where t = "vip" and o.sku = "B"', True),
    ("(select o from orders where o.amount > 50).head().id", "o1"),
    # let
    ("let x = age * 2 in x + 1", 61),
    ("let x = 2, y = x * 3 in y", 6),
    ('let n = name in n.equals("ADA", false)', True),
    ("let age = 1 in age", 1),  # a let name shadows the profile attribute
    ("let x = missing in if(x.isNull(), 0, x)", 0),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_value(text: str, expected: Any) -> None:
    value = both(text, kind="expression", profile=P)
    assert value == expected
    assert type(value) is type(expected)


def test_rule_is_satisfied_only_by_true() -> None:
    assert holds("age > 18", profile=P)
    assert not holds("age > 40", profile=P)
    assert not holds("missing", profile=P)
    assert not holds("name", profile=P)  # a string value is not "true"
    assert holds("flag", profile=P)
    assert holds("select o from orders where o.amount > 100", profile=P)  # non-empty select
    assert not holds("select o from orders where o.amount > 1000", profile=P)


def test_segments() -> None:
    segs = {"a": "realized", "b": "existing", "c": "exited"}
    assert holds('inSegment("a")', segments=segs)
    assert holds('inSegment("b")', segments=segs)
    assert not holds('inSegment("c")', segments=segs)
    assert not holds('inSegment("zzz")', segments=segs)
    assert holds("inSegment(favorite)", profile={"favorite": "a"}, segments=segs)
    assert not holds("inSegment(missing)", segments=segs)
    text = 'segmentMembership.get("ups").get("b").status in ["realized", "existing"]'
    assert holds(text, segments=segs)
    assert not holds(text.replace('"b"', '"c"'), segments=segs)
    assert holds(
        'segmentMembership.get("any-namespace").get("a").status = "realized"', segments=segs
    )
    assert both('segmentMembership.get("ups").get("nope").status.isNull()', segments=segs)


def test_events() -> None:
    events = [
        {"eventType": "web.webpagedetails.pageViews", "timestamp": "2026-03-15T12:00:00Z",
         "web": {"name": "home"}},
        {"eventType": "commerce.purchases", "timestamp": "2026-03-14T12:00:00Z", "amount": 50},
        {"eventType": "commerce.purchases", "timestamp": "2026-03-01T12:00:00Z", "amount": 70},
    ]  # fmt: skip
    assert both("xEvent.web.name", kind="expression", events=events) == "home"
    assert holds('xEvent.web.name = "home"', events=events)  # the current (latest) event
    assert holds('xEvent.eventType = "web.webpagedetails.pageViews"', events=events)
    assert both("xEvent.count()", kind="formula", events=events) == 3
    assert holds(
        '(select e from xEvent where e.eventType = "commerce.purchases").count() = 2',
        events=events,
    )
    assert holds("exists e from xEvent where e.amount > 60", events=events)
    assert not holds("exists e from xEvent where e.amount > 60", events=[])
    assert both("xEvent.map(e => e.amount).sum()", kind="formula", events=events) == 120
    assert not holds('xEvent.web.name = "home"', events=[])


def test_offer_and_aliases_in_formulas() -> None:
    offer = {
        "id": "o-1",
        "name": "Spring sale",
        "rank": {"priority": 7},
        "tags": ["t1", "t2"],
        "characteristics": {"tone": "bold", "xdm:legacy": "1"},
        "_acme": {"margin": 0.4},
    }
    assert both("offer.rank.priority + 1", kind="formula", offer=offer) == 8
    assert both('if(offer._id = "o-1", 1, 0)', kind="formula", offer=offer) == 1
    assert both('if(offer.characteristics.tone = "bold", 2, 0)', kind="formula", offer=offer) == 2
    assert (
        both('if(offer.characteristics.get("legacy") = "1", 1, 0)', kind="formula", offer=offer)
        == 1
    )
    assert both('if("t2" in offer.tags, 5, 0)', kind="formula", offer=offer) == 5
    assert both("offer._acme.margin * 100", kind="formula", offer=offer) == 40.0
    assert both("offer.rank.priority", kind="formula") is None  # no offer: null
    formula = compile_formula("offer.rank.priority * boosted.factor", aliases=["boosted"])
    env = make_env(offer=offer, aliases={"boosted": {"factor": 3}})
    assert formula(env) == 21 == formula.interpret(env)


def test_context_data_by_schema_ref() -> None:
    ctx = {"_xdm.context.additionalParameters;version=1": {"xdm:weather": "sun", "temp": 21}}
    rule = '@{_xdm.context.additionalParameters;version=1}.weather = "sun"'
    assert holds(rule, context=ctx)
    assert holds("@{_xdm.context.additionalParameters;version=1}.temp > 20", context=ctx)
    assert not holds(rule, context={})
    assert not holds('@{other}.weather = "sun"', context=ctx)


def test_datetime_values_compare_as_instants() -> None:
    profile = {
        "a": "2026-03-15T12:00:00+02:00",  # 10:00 UTC
        "b": "2026-03-15T11:00:00Z",
        "dt": datetime(2026, 3, 15, 11, 0, tzinfo=UTC),
    }
    assert holds('a < "2026-03-15T10:30:00Z"', profile=profile)
    assert holds("a < date(2026, 3, 16)", profile=profile)
    assert holds("dt = date(2026, 3, 15) or dt > date(2026, 3, 15)", profile=profile)
    assert holds('dt = "2026-03-15T11:00:00Z"', profile=profile)


def test_explain_points_at_the_failing_condition() -> None:
    rule = compile_rule('age >= 18 and name = "Bob" and flag')
    exp = rule.explain(make_env(P))
    assert not exp.satisfied and exp.value is False
    assert exp.failed is not None
    assert exp.failed.source == 'name = "Bob"'
    assert (exp.failed.line, exp.failed.column) == (1, 15)
    assert exp.failed.value is False
    ok = rule.explain(make_env({**P, "name": "Bob"}))
    assert ok.satisfied and ok.failed is None
    negated = compile_rule("not (age > 18 or flag)").explain(make_env(P))
    assert negated.failed is not None and negated.failed.source == "age > 18"
    null_formula = compile_formula("offer.rank.priority * 2").explain(make_env(P))
    assert null_formula.failed is not None
    assert null_formula.failed.source == "offer.rank.priority" and null_formula.failed.value is None


# ---- shapes where the generated code specialises and the interpreter does not ------------------
# Each case is evaluated by both back ends (``both``), which must agree, and checked against the
# value docs/pql.md gives.


@pytest.mark.parametrize(
    "text",
    [
        "b = 0", "b = 1", "0 = b", "1 = b", "b = 0.0", "b = 1.0", "b != 0", "b != 1",
        "0 != b", "b >= 0", "b <= 1", "b > 0", "b < 1", "1 > b", "0 <= b",
        "b in [0, 1]", "b notIn [0, 1]", "b in [0.0, 1.0]", "b notIn [2, 3]",
    ],
)  # fmt: skip
@pytest.mark.parametrize("flag", [True, False])
def test_booleans_are_not_numbers(text: str, flag: bool) -> None:
    """`flag = 0` with a false flag is false: booleans never compare with numbers, in either
    direction and through either list form (Python's ``False == 0`` must not leak through)."""
    assert both(text, kind="expression", profile={"b": flag}) is False


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("b = 0", 0, True),
        ("b = 0", 0.0, True),
        ("b = 1", 1.0, True),
        ("0 = b", 0, True),
        ("b != 0", 1, True),
        ("b >= 0", 0, True),
        ("b < 1", 0, True),
        ("b in [0, 1]", 1, True),
        ("b notIn [0, 1]", 2, True),
        ("b notIn [0, 1]", 0.0, False),
        ("b = true", True, True),
        ("b = false", False, True),
        ("b != true", False, True),
        ("b = false", 0, False),
    ],
)
def test_numbers_zero_and_one_still_compare(text: str, value: Any, expected: bool) -> None:
    assert both(text, kind="expression", profile={"b": value}) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('x in [1, "a"]', 1, True),
        ('x in [1, "a"]', 1.0, True),
        ('x in [1, "a"]', "a", True),
        ('x in [1, "a"]', True, False),  # a boolean is not the number 1
        ('x in [1, "a"]', "1", False),
        ('x in [1, "a"]', "A", False),
        ('x in [1, "a"]', 2, False),
        ('x in [1, "a"]', None, False),
        ('x in [1, "a"]', [1], False),
        ('x notIn [1, "a"]', 2, True),
        ('x notIn [1, "a"]', "b", True),
        ('x notIn [1, "a"]', 1, False),
        ('x notIn [1, "a"]', 1.0, False),
        ('x notIn [1, "a"]', "a", False),
        ('x notIn [1, "a"]', True, False),  # cannot be compared with any item
        ('x notIn [1, "a"]', None, False),
        ('x notIn [1, "a"]', {"a": 1}, False),
        ('x in [0, "", true]', False, False),
        ('x in [0, "", true]', True, True),
        ('x in [0, "", true]', 0, True),
        ('x in [0, "", true]', "", True),
        ('x notIn [0, "", true]', False, True),  # comparable with `true`, equal to nothing
        ('x in [2.5, "2.5"]', 2.5, True),
        ('x in [2.5, "2.5"]', "2.5", True),
        ('x notIn [2.5, "2.5"]', 2, True),
    ],
)
def test_mixed_type_lists(text: str, value: Any, expected: bool) -> None:
    assert both(text, kind="expression", profile={"x": value}) is expected


_OPS = ("=", "!=", "<", "<=", ">", ">=")


@pytest.mark.parametrize("op", _OPS)
@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        (2, 1, 1),
        (1, 1, 0),
        (1, 1.0, 0),
        (0.5, 3, -1),
        ("b", "a", 1),
        ("a", "a", 0),
        ("2026-03-10T12:00:00Z", "2026-03-10T12:00:00Z", 0),
        ([1, 2], [1, 2], "equal only"),
        ({"k": 1}, {"k": 1}, "equal only"),
        (True, True, "equal only"),
        (True, False, "unequal only"),
        (1, "1", None),  # different kinds: every comparison is false
        (True, 1, None),
        (False, 0, None),
        (None, None, None),
        (1, None, None),
    ],
)
def test_path_to_path_comparisons(op: str, a: Any, b: Any, order: Any) -> None:
    """Two paths of unknown type compare at run time; compiling them never fails."""
    value = both(f"a {op} b", profile={"a": a, "b": b})
    if order is None:
        expected = False
    elif order == "equal only":
        expected = op == "="
    elif order == "unequal only":
        expected = op == "!="
    else:
        expected = {
            "=": order == 0, "!=": order != 0, "<": order < 0, "<=": order <= 0,
            ">": order > 0, ">=": order >= 0,
        }[op]  # fmt: skip
    assert value is expected
    nested = both(f"m.a {op} n.b.c", profile={"m": {"a": a}, "n": {"b": {"c": b}}})
    assert nested is expected


@pytest.mark.parametrize("op", _OPS)
def test_path_to_path_comparisons_with_date_times(op: str) -> None:
    """A date-time path against a path of unknown type compares instants, in both orders."""
    events = [{"timestamp": "2026-03-10T12:00:00+02:00"}]  # 10:00 UTC
    later = {"t": "2026-03-10T11:00:00Z"}
    expected = {"=": False, "!=": True, "<": True, "<=": True, ">": False, ">=": False}[op]
    assert both(f"xEvent.timestamp {op} t", profile=later, events=events) is expected
    flipped = {"=": False, "!=": True, "<": False, "<=": False, ">": True, ">=": True}[op]
    assert both(f"t {op} xEvent.timestamp", profile=later, events=events) is flipped
    same = {"t": "2026-03-10T10:00:00Z"}
    assert both(f"xEvent.timestamp {op} t", profile=same, events=events) is (
        op in ("=", "<=", ">=")
    )
    assert both(f"xEvent.timestamp {op} t", profile={"t": 17}, events=events) is False


REF = "_xdm.context.additionalParameters;version=1"


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("@{R}.weather", {REF: {"xdm:weather": "sun"}}, "sun"),
        ("@{R}.weather", {REF: {"weather": "rain", "xdm:weather": "sun"}}, "rain"),
        ("@{R}.weather", {REF: {"weather": None, "xdm:weather": "sun"}}, None),  # present wins
        ("@{R}.weather", {"xdm:" + REF: {"xdm:weather": "sun"}}, "sun"),
        ("@{R}.weather", {REF: None, "xdm:" + REF: {"weather": "sun"}}, None),
        ("@{R}.device.type", {REF: {"xdm:device": {"xdm:type": "mobile"}}}, "mobile"),
        ("@{R}.device.type", {REF: {"device": {"xdm:type": "tv"}}}, "tv"),
        ("@{R}.items.sku", {REF: {"xdm:items": [{"xdm:sku": "A"}, {"sku": "B"}, {}]}}, ["A", "B"]),
        ("@{R}.items.sku", {REF: {"items": []}}, None),
        ("@{R}.weather", {REF: [{"xdm:weather": "sun"}, {"weather": "fog"}]}, ["sun", "fog"]),
        ("@{R}.weather", {REF: "sun"}, None),
        ("@{R}.weather", {}, None),
        ('@{R}.weather = "sun"', {REF: {"xdm:weather": "sun"}}, True),
        ('@{R}.weather = "sun"', {"xdm:" + REF: {"xdm:weather": "sun"}}, True),
        ("@{R}.temp > 20", {REF: {"xdm:temp": 21}}, True),
        ("@{R}.temp > 20", {REF: {"xdm:temp": True}}, False),
        ('@{R}.weather in ["sun", "fog"]', {REF: {"xdm:weather": "fog"}}, True),
        (
            'select c from @{R} where c.channel = "web"',
            {REF: {"xdm:channel": "web"}},
            [{"xdm:channel": "web"}],
        ),
        (
            'exists c from @{R}.items where c.sku = "B"',
            {"xdm:" + REF: {"xdm:items": [{"xdm:sku": "A"}, {"xdm:sku": "B"}]}},
            True,
        ),
    ],
)
def test_context_data_under_xdm_prefixed_keys(text: str, context: Any, expected: Any) -> None:
    """Adobe request bodies prefix keys with `xdm:`; a lookup tries the key, then the prefixed
    key, at every step of a context path (the schema ref included)."""
    value = both(text.replace("@{R}", "@{" + REF + "}"), kind="expression", context=context)
    assert value == expected
    assert type(value) is type(expected)
