"""Type errors and Adobe's limits: each with its code and the position it points at."""

from __future__ import annotations

import pytest

from nextoffer.pql import (
    PqlLimitError,
    PqlTypeError,
    compile_expression,
    compile_formula,
    compile_rule,
)
from nextoffer.pql.limits import MAX_DEPTH

from .conftest import make_env

TYPE_ERRORS = [
    # (kind, text, code, line, column)
    ("rule", '"a" = 1', "type_mismatch", 1, 1),
    ("rule", 'age = 1 and\n age = "x"', "conflicting_types", 2, 2),
    ("rule", 'name.startsWith("A") and name > 3', "conflicting_types", 1, 26),
    ("rule", "x = null", "compare_null", 1, 1),
    ("rule", "null in [1]", "compare_null", 1, 1),
    ("rule", '"a" * 2 > 1', "not_a_number", 1, 1),
    ("rule", '-"a" > 1', "not_a_number", 1, 2),
    ("rule", "1 + null > 1", "null_arithmetic", 1, 5),
    ("rule", '"abc".count() > 1', "wrong_target", 1, 1),
    ("rule", '5.startsWith("a")', "wrong_target", 1, 1),
    ("rule", 'tags = ["a"] and tags.contains("a")', "wrong_target", 1, 18),
    ("rule", "date(2020, 1, 1).count() > 1", "wrong_target", 1, 1),
    ("rule", "true.getMonth() = 1", "wrong_target", 1, 1),
    ("rule", "x.equals()", "wrong_arity", 1, 1),
    ("rule", "if(a, b)", "wrong_arity", 1, 1),
    ("rule", "x.isNull(1)", "wrong_arity", 1, 1),
    ("rule", 'x.cont("a")', "unknown_method", 1, 3),
    ("rule", 'inSegmnt("a")', "unknown_function", 1, 1),
    ("rule", '__import__("os")', "unknown_function", 1, 1),
    ("rule", "count(xs) > 1", "unknown_function", 1, 1),
    ("rule", "offer.rank.priority > 1", "offer_in_rule", 1, 1),
    ("rule", "age + 1", "rule_not_boolean", 1, 1),
    ("rule", '"yes"', "rule_not_boolean", 1, 1),
    ("formula", "age > 1", "formula_not_number", 1, 1),
    ("formula", 'if(a, "x", "y")', "formula_not_number", 1, 1),
    ("rule", 'x.matches("(a")', "bad_regex", 1, 11),
    ("rule", 'x.regexGroup("a)", 1) = "a"', "bad_regex", 1, 14),
    ("rule", "x.matches(pattern)", "pattern_not_literal", 1, 11),
    ("rule", 'x.equals("a", flag)', "flag_not_literal", 1, 15),
    ("rule", 'x.equals("a", "no")', "flag_not_literal", 1, 15),
    ("rule", "x.equals(1)", "type_mismatch", 1, 10),
    ("rule", "date(2026, 2, 29) < now", "bad_date", 1, 1),
    ("rule", "date(2026, x, 1) < now", "bad_date", 1, 12),
    ("rule", '"soon" occurs today', "not_a_datetime", 1, 1),
    ("rule", "5 occurs today", "not_a_datetime", 1, 1),
    ("rule", 'ts occurs before "tomorrow"', "not_a_datetime", 1, 18),
    ("rule", "offer_end > 3 and offer_end occurs today", "conflicting_types", 1, 19),
    ("formula", 'if(offer.selectionConstraint.endDate > "soon", 1, 2)', "not_a_datetime", 1, 40),
    ("formula", 'if(offer.rank.priority = "high", 1, 2)', "type_mismatch", 1, 4),
    ("formula", "offer.name * 2", "not_a_number", 1, 1),
    ("formula", "offer.tags.sum() + offer.tags.getYear()", "wrong_target", 1, 20),
    ("rule", "x = last 7 days", "period_outside_occurs", 1, 5),
    ("rule", "ts occurs this 3 days", "bad_period", 1, 11),
    ("rule", 'x in "abc"', "not_a_list", 1, 6),
    ("rule", "exists e from 5 where e = 1", "not_a_list", 1, 15),
    ("rule", "tags.includes(t => t)", "misplaced_lambda", 1, 15),
    ("rule", "tags.filter(1).count() > 0", "expected_lambda", 1, 13),
    ("rule", "flag < true", "not_orderable", 1, 1),
    ("rule", "[1] < [2]", "not_orderable", 1, 1),
    ("rule", 'tags.get(1) = "a" and 1 = "b"', "type_mismatch", 1, 23),
    ("rule", "(a = 1).count() > 0", "wrong_target", 1, 2),
]


@pytest.mark.parametrize(("kind", "text", "code", "line", "column"), TYPE_ERRORS)
def test_type_errors(kind: str, text: str, code: str, line: int, column: int) -> None:
    compile_ = compile_rule if kind == "rule" else compile_formula
    with pytest.raises(PqlTypeError) as info:
        compile_(text)
    err = info.value
    assert (err.code, err.line, err.column) == (code, line, column), str(err)
    assert "^" in err.excerpt.splitlines()[1]


def test_suggestions_for_misspelt_names() -> None:
    with pytest.raises(PqlTypeError, match="did you mean startsWith"):
        compile_rule('name.startWith("A")')
    with pytest.raises(PqlTypeError, match="is a method"):
        compile_rule("isNull(name)")


def test_unknown_typed_paths_compare_with_anything() -> None:
    for text in ('x = "a"', "x = 1", "x > date(2020, 1, 1)", "x = true", "x = y", "x in [1, 2]"):
        compile_rule(text)


def test_known_offer_field_types_allow_correct_use() -> None:
    compile_formula('offer.rank.priority * 2 + if(offer.name.startsWith("A"), 1, 0)')
    compile_formula("if(offer.selectionConstraint.endDate occurs <= 1 days after now, 1, 0)")
    compile_formula('if("x" in offer.tags and offer.characteristics.k.contains("y"), 1, 0)')
    compile_formula('if(offer.selectionConstraint.startDate < "2026-01-01T00:00:00Z", 1, 0)')


# ---- limits -------------------------------------------------------------------------------------


def _clause(i: int) -> str:
    return f"a{i} = {i}"


def test_rule_text_limit_counts_utf8_bytes() -> None:
    ok = 'x = "' + "é" * 7490 + '"'  # 14,986 bytes
    compile_rule(ok)
    too_big = 'x = "' + "é" * 7500 + '"'  # 15,006 bytes
    with pytest.raises(PqlLimitError) as info:
        compile_rule(too_big)
    assert info.value.code == "rule_too_large"
    assert "15,000 bytes" in info.value.message
    # the 15,001st byte is inside the 7,498th "é", at column 5 + 7,498
    assert (info.value.line, info.value.column) == (1, 7503)


def test_formula_text_limit_is_8_kb() -> None:
    text = 'x = "' + "a" * 7995 + '"'  # 8,001 bytes
    with pytest.raises(PqlLimitError) as info:
        compile_formula(text)
    assert info.value.code == "formula_too_large"
    assert info.value.column == 8001
    compile_rule(text)  # the same text is fine as a rule


def test_profile_attribute_limit() -> None:
    compile_rule(" and ".join(_clause(i) for i in range(25)))
    text = " and ".join(_clause(i) for i in range(26))
    with pytest.raises(PqlLimitError) as info:
        compile_rule(text)
    assert info.value.code == "too_many_profile_attributes"
    assert info.value.column == text.index("a25 = 25") + 1
    # prefixes of a longer path are one attribute, and repeats count once
    compile_rule(" and ".join(f"p.q{i}.r = 1 and p.q{i}.r > 0" for i in range(25)))


def test_context_attribute_limit() -> None:
    compile_rule(" and ".join(f"@{{ctx}}.k{i} = {i}" for i in range(30)))
    text = " and ".join(f"@{{ctx}}.k{i} = {i}" for i in range(31))
    with pytest.raises(PqlLimitError) as info:
        compile_rule(text)
    assert info.value.code == "too_many_context_attributes"
    assert info.value.column == text.index("@{ctx}.k30") + 1


def test_nesting_limit_counts_brackets() -> None:
    compile_rule("(" * 30 + "a = 1" + ")" * 30)
    text = "(" * 31 + "a = 1" + ")" * 31
    with pytest.raises(PqlLimitError) as info:
        compile_rule(text)
    assert (info.value.code, info.value.column) == ("nesting_too_deep", 31)
    compile_rule('x = "' + "(" * 40 + '"')  # brackets inside strings do not count
    with pytest.raises(PqlLimitError):
        compile_rule("x in " + "[" * 31 + "1" + "]" * 31)


def test_expression_depth_limit() -> None:
    text = "a" + " + a" * (MAX_DEPTH + 5) + " > 0"
    with pytest.raises(PqlLimitError) as info:
        compile_rule(text)
    assert info.value.code == "expression_too_deep"
    assert (info.value.line, info.value.column) == (1, 1)
    chain = "x" + ".head()" * (MAX_DEPTH + 5) + ".k = 1"
    with pytest.raises(PqlLimitError):
        compile_rule(chain)
    for hostile in ("not " * 3000 + "a", "-" * 3000 + "1 > 0", "a" + ".b" * 3000 + " = 1"):
        with pytest.raises(PqlLimitError) as info:
            compile_rule(hostile)
        assert info.value.code == "expression_too_deep"
    compile_rule("a" + " + a" * 40 + " > 0")  # long but fine


def test_deepest_allowed_expressions_compile_and_run() -> None:
    nested_ifs = "if(a, " * 29 + "1" + ", 2)" * 29
    formula = compile_formula(nested_ifs)
    assert formula(make_env({"a": True})) == 1
    rule = compile_rule("not " * 60 + "a")
    assert rule.test(make_env({"a": True}))


def test_top_n_limit() -> None:
    compile_expression("xs.topN(x => x, 1000)")
    with pytest.raises(PqlLimitError) as info:
        compile_expression("xs.topN(x => x, 1001)")
    assert (info.value.code, info.value.column) == ("top_n_too_large", 17)
