"""Syntax: precedence and spans, every syntax error class with its position, the table of
friendly messages (tested from the table itself), and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.pql import PqlError, PqlSyntaxError, compile_rule
from nextoffer.pql import ast as A
from nextoffer.pql.mistakes import MISTAKES
from nextoffer.pql.parser import parse


def shape(node: A.Node) -> str:
    """A compact rendering of the tree, to assert how text groups."""
    if isinstance(node, A.BoolOp):
        return "(" + f" {node.op} ".join(shape(o) for o in node.operands) + ")"
    if isinstance(node, A.Compare | A.Arith):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, A.Unary):
        return f"{node.op}({shape(node.operand)})"
    if isinstance(node, A.In):
        return f"({shape(node.item)} {'notIn' if node.negate else 'in'} {shape(node.collection)})"
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, A.Literal):
        return repr(node.value)
    if isinstance(node, A.Member):
        return f"{shape(node.target)}.{node.name}"
    if isinstance(node, A.Call):
        target = f"{shape(node.target)}." if node.target is not None else ""
        return f"{target}{node.name}({', '.join(shape(a) for a in node.args)})"
    if isinstance(node, A.Quant):
        where = f" where {shape(node.where)}" if node.where is not None else ""
        return f"[{node.kind} {node.param} from {shape(node.source)}{where}]"
    if isinstance(node, A.Occurs):
        return f"occurs({shape(node.ts)}, {node.form})"
    return type(node).__name__


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c and d", "((a and b) or (c and d))"),
        ("a and b and c", "(a and b and c)"),
        ("not a = 1 and b", "(not((a = 1)) and b)"),
        ("!a.isNull() AND b", "(not(a.isNull()) and b)"),
        ("a + b * c - d", "((a + (b * c)) - d)"),
        ("-a * b", "(neg(a) * b)"),
        ("-2 * b", "(-2 * b)"),
        ("a - -1", "(a - -1)"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a * b % c / d", "(((a * b) % c) / d)"),
        ("a + 1 > b * 2", "((a + 1) > (b * 2))"),
        ("x in [1, 2] or y notIn z", "((x in ListLit) or (y notIn z))"),
        ('x like "a%" and y', "(x.like('a%') and y)"),
        ("ts occurs today and b", "(occurs(ts, on) and b)"),
        ("ts occurs between a and b and c", "(occurs(ts, between) and c)"),
        (
            "a and exists e from xs where e.v = 1 or e.w",
            "(a and [exists e from xs where ((e.v = 1) or e.w)])",
        ),
        ("select e: xs where e.v", "[select e from xs where e.v]"),
        ("FORALL e FROM xs WHERE e.v", "[forall e from xs where e.v]"),
        ("profile.from = 1", "(profile.from = 1)"),  # keywords are names after a dot
        ("e.type = x.last", "(e.type = x.last)"),
        ("day = 1", "(day = 1)"),  # a unit word where a name is expected
        ("a.b(1, c => c.d)", "a.b(1, Lambda)"),
    ],
)
def test_grouping(text: str, expected: str) -> None:
    assert shape(parse(text)) == expected


def test_nodes_carry_spans() -> None:
    text = 'profile.age >= 18 and\n  name.equals("Joe", false)'
    root = parse(text)
    assert isinstance(root, A.BoolOp)
    cmp, call = root.operands
    assert (cmp.span.line, cmp.span.column, cmp.span.end_column) == (1, 1, 18)
    assert text[cmp.span.start : cmp.span.end] == "profile.age >= 18"
    assert (call.span.line, call.span.column) == (2, 3)
    assert text[call.span.start : call.span.end] == 'name.equals("Joe", false)'
    assert isinstance(call, A.Call) and call.name_span is not None
    assert (call.name_span.line, call.name_span.column) == (2, 8)


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("a = * 1", "doubled_operator", 1, 5),
        ("a = = 1", "double_equals", 1, 5),
        ("a = 1 )", "unexpected_token", 1, 7),
        ("a b", "unexpected_token", 1, 3),
        ("a = 1\n  and # b", "unexpected_character", 2, 7),
        ("a = 1 < 2 < 3", "chained_comparison", 1, 7),
        ("a = 1 = 2", "chained_comparison", 1, 7),
        ('"a\\q"', "bad_escape", 1, 3),
        ("x = 12345678901234567890", "number_too_large", 1, 5),
        ("x = $2.y", "unknown_parameter", 1, 5),
        ("@{ }.x = 1", "empty_context_ref", 1, 1),
        ("", "unexpected_end", 1, 1),
        ("select from xs", "unexpected_token", 1, 13),
        ("ts occurs <= 3 before now", "unexpected_token", 1, 16),
        ("let x = 1", "unexpected_end", 1, 9),
    ],
)
def test_syntax_errors_have_positions(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule(text)
    err = info.value
    assert (err.code, err.line, err.column) == (code, line, column), str(err)
    source_line, caret = err.excerpt.split("\n")
    assert source_line == (text.splitlines() or [""])[line - 1]
    assert caret.index("^") == column - 1
    assert err.message in str(err) and f"line {line}, column {column}" in str(err)


EXAMPLES = [(m.code, example) for m in MISTAKES for example in m.examples]


@pytest.mark.parametrize(("code", "example"), EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_every_labelled_mistake_gets_its_message(code: str, example: str) -> None:
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule(example)
    assert info.value.code == code
    assert info.value.message == next(m.message for m in MISTAKES if m.code == code)


@pytest.mark.parametrize(
    ("text", "code", "column"),
    [
        ("age == 18", "double_equals", 6),
        ("name = 'Joe'", "single_quotes", 8),
        ("a && b", "and_symbol", 3),
        ("a || b", "or_symbol", 3),
        ('x = "abc', "unclosed_string", 5),
        ("a and (b or (c and d)", "unclosed_paren", 7),  # points at the bracket left open
        ("a = 1 +", "trailing_operator", 7),
    ],
)
def test_mistakes_are_recognised_in_new_text(text: str, code: str, column: int) -> None:
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule(text)
    assert (info.value.code, info.value.column) == (code, column)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_fuzzed_text_only_raises_syntax_errors(text: str) -> None:
    try:
        parse(text)
    except PqlSyntaxError as err:
        assert err.line >= 1 and err.column >= 1


PIECES = [
    "a", "b.c", "1", "2.5", '"s"', "(", ")", "[", "]", ",", ".", "=", "!=", "<", ">=", "and",
    "or", "not", "!", "in", "notIn", "+", "-", "*", "/", "%", "occurs", "today", "last", "7",
    "days", "before", "between", "select", "x", "from", "where", "exists", "let", "=>", "if(",
    "count()", ".head()", "@{ref}", "true", "null", "xEvent", "like", ":", "$1", "'",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_fuzzed_token_soup_only_raises_pql_errors(pieces: list[str]) -> None:
    """Near-miss PQL: any failure is a PqlError with a position, never another exception."""
    text = " ".join(pieces)
    try:
        compile_rule(text)
    except PqlError as err:
        assert err.line >= 1 and err.column >= 1 and err.code
