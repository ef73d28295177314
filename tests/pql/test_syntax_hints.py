"""Mistakes found from the tokens around a failure: doubled operators and `(x) =>` lambdas."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.pql import PqlSyntaxError, compile_rule
from nextoffer.pql.syntax_hints import EXAMPLES

CASES = [(code, text) for code, texts in EXAMPLES.items() for text in texts]


def _error(text: str) -> PqlSyntaxError:
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule(text)
    return info.value


@pytest.mark.parametrize(("code", "text"), CASES, ids=[t for _, t in CASES])
def test_every_example_gets_its_code(code: str, text: str) -> None:
    assert _error(text).code == code


def test_a_doubled_and_points_at_the_second_and_and_expects_no_and() -> None:
    err = _error("profile.a = 1 and and profile.b = 2")
    assert (err.code, err.line, err.column) == ("doubled_operator", 1, 19)
    assert err.excerpt.splitlines()[1] == " " * 18 + "^^^"
    assert err.message.startswith("`and` follows `and` with nothing between them")
    assert "expected" not in err.message


def test_a_doubled_operator_on_a_later_line_is_located_there() -> None:
    err = _error("profile.a = 1\n  or or profile.b = 2")
    assert (err.code, err.line, err.column) == ("doubled_operator", 2, 6)


def test_a_parenthesised_lambda_parameter_says_to_write_x_arrow() -> None:
    err = _error("profile.orders.exists((x) => x.amount > 3)")
    assert err.code == "lambda_parentheses"
    assert err.message.startswith("Write `x => ...`")
    assert (err.line, err.column) == (1, 23)
    assert err.excerpt.splitlines()[1] == " " * 22 + "^^^"


@pytest.mark.parametrize(
    "text",
    [
        "ts occurs <= 3 before now",  # `occurs <=` is a form of occurs, not two operators
        "x.and and y z",  # the first `and` is a member name
        "a and and.b c",  # the second `and` starts a path
        "a and not b c",  # `not` starts an operand
        "a - -1 b",
        "f(1 => 2)",  # an arrow after something that is not `(name)`
    ],
)
def test_no_hint_where_the_tokens_do_not_show_the_mistake(text: str) -> None:
    assert _error(text).code == "unexpected_token"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["and", "or", "=", "<", "in", "+", "*", "like"]),
    st.sampled_from(["and", "or", ">", ">=", "in", "/", "%", "occurs"]),
)
def test_any_two_binary_operators_in_a_row_are_named_where_the_second_is(
    first: str, second: str
) -> None:
    text = f"profile.a {first} {second} profile.b"
    err = _error(text)
    assert err.code == "doubled_operator", str(err)
    assert err.column == len(f"profile.a {first} ") + 1
