"""`pql.diagnose`: a compile's answer as data, with where the offending text starts and ends."""

from __future__ import annotations

import pickle

import pytest

from nextoffer.pql import PqlSyntaxError, compile_rule, diagnose
from nextoffer.pql.mistakes import MISTAKES
from nextoffer.pql.syntax_hints import EXAMPLES


def test_a_valid_text_has_its_reads_and_no_errors() -> None:
    d = diagnose('profile.tier = "gold" and inSegment("vip")', "rule")
    assert d.valid and d.errors == ()
    assert d.reads is not None
    assert d.reads.profile == {"tier"} and d.reads.segments == {"vip"}


def test_an_error_spans_the_token_it_blames() -> None:
    d = diagnose('profile.city = "Paris" and and profile.x = 1', "rule")
    assert not d.valid and d.reads is None
    [e] = d.errors
    assert (e.code, e.phase) == ("doubled_operator", "syntax")
    assert (e.line, e.column, e.end_line, e.end_column) == (1, 28, 1, 31)


def test_the_end_never_passes_the_end_of_the_line() -> None:
    [e] = diagnose("profile.age >", "rule").errors
    assert e.code == "trailing_operator"
    assert e.end_column == e.column + 1


@pytest.mark.parametrize(
    "text",
    [ex for m in MISTAKES for ex in m.examples] + [ex for exs in EXAMPLES.values() for ex in exs],
)
def test_every_recognised_mistake_carries_its_hint(text: str) -> None:
    [e] = diagnose(text, "rule").errors
    assert e.hint == e.message


def test_a_generic_syntax_error_has_no_hint() -> None:
    [e] = diagnose("profile.a = 1 2", "rule").errors
    assert e.code == "unexpected_token" and e.hint is None


def test_the_span_and_hint_survive_pickling() -> None:
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule("a == 1")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.end_line, copy.end_column, copy.hint) == (
        info.value.end_line,
        info.value.end_column,
        info.value.hint,
    )
    assert copy.hint is not None


def test_checking_does_not_fill_the_compile_cache() -> None:
    from nextoffer.pql import cache

    text = 'profile.only_checked_here = "yes"'
    diagnose(text, "rule")
    assert not any(c.text == text for c in cache._entries.values())
