"""Hostile rule text: no code injection, no attribute access on data, bounded work."""

from __future__ import annotations

import pytest

from nextoffer.pql import PqlError, PqlTypeError, compile_expression, compile_rule, runtime
from nextoffer.pql.codegen import UnsafeSource, _check_whitelist
from nextoffer.pql.limits import MAX_REGEX_MEM, MAX_WORK
from nextoffer.pql.runtime import EXPORTS, WorkExceeded

from .conftest import make_env


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os").system("true")',
        'eval("1")',
        'open("/etc/passwd").count() > 0',
        "globals().count() > 0",
        "x.__class__.__subclasses__().count() > 0",
        "lambda: 1",
    ],
)
def test_code_never_runs(text: str) -> None:
    with pytest.raises(PqlError):
        compile_rule(text)


def test_dunder_paths_are_plain_keys() -> None:
    """`x.__class__` is the key "__class__" of x, looked up in the data like any other."""
    rule = compile_expression("profile.__class__.__name__")
    assert rule(make_env({"n": 1})) is None
    assert rule(make_env({"__class__": {"__name__": "boo"}})) == "boo"
    assert compile_expression("name.__len__")(make_env({"name": "abc"})) is None
    assert compile_rule("exec").test(make_env({"exec": True}))  # just an attribute name


@pytest.mark.parametrize(
    "payload",
    [
        "'); __import__('os'); ('",
        '\\"); import os; (\\"',
        "\\\\",
        "{K0}",
        "\\n__import__\\n",
        "\\u0027\\u0022",
    ],
)
def test_string_literals_are_data(payload: str) -> None:
    text = f'"{payload}"'
    value = compile_expression(text)(make_env())
    assert isinstance(value, str)
    rule = compile_rule(f'name = "{payload}"')
    assert rule.test(make_env({"name": value}))
    assert value not in rule.source  # user text never appears in generated source


def test_generated_source_names_only_whitelisted_things() -> None:
    rule = compile_rule('profile.__dict__ = "x" and e.__globals__ = 1 and inSegment("__import__")')
    for word in ("__dict__", "__globals__", "__import__"):
        assert word not in rule.source
    with pytest.raises(UnsafeSource, match="outside the whitelist: open"):
        _check_whitelist(compile("def _pql(env):\n    return open", "<x>", "exec"))
    with pytest.raises(UnsafeSource, match="outside the whitelist: __globals__"):
        _check_whitelist(
            compile("def _pql(env):\n    return (lambda: 1).__globals__", "<x>", "exec")
        )
    with pytest.raises(UnsafeSource, match="binds an unexpected name: sneaky"):
        _check_whitelist(compile("def _pql(sneaky):\n    return 1", "<x>", "exec"))
    with pytest.raises(UnsafeSource, match="binds an unexpected name: sneaky"):  # in a lambda
        _check_whitelist(compile("def _pql(env):\n    return lambda sneaky: 1", "<x>", "exec"))
    _check_whitelist(compile("def _pql(env):\n    return lambda v1: lookup(v1, K0)", "<x>", "exec"))


def test_generated_code_runs_without_builtins() -> None:
    rule = compile_rule('a in ["x"] and inSegment("s")')
    assert rule._fn.__builtins__ == {}
    names = set(rule._fn.__globals__) - {"__builtins__", *EXPORTS}
    assert names == {"_pql", "str", "LIVE", "K0", "K1", "K2", "K3"}


def test_regex_is_linear_time() -> None:
    """Patterns run on RE2 (no backtracking: linear in the text, whatever the pattern), with
    its memory bounded; Python's `re` would never finish the match below."""
    rule = compile_rule('s.matches("(a+)+$")')
    hostile = "a" * 50_000 + "!"
    assert not rule.test(make_env({"s": hostile}))
    assert rule.test(make_env({"s": "aaa"}))
    compiled = runtime.regex("(a+)+$", True)
    assert type(compiled).__module__.split(".")[0] in {"re2", "_re2"}
    assert compiled.options.max_mem == MAX_REGEX_MEM


def test_regex_that_re2_rejects_is_a_compile_error() -> None:
    with pytest.raises(PqlTypeError) as info:
        compile_rule('s.matches("(a)\\\\1")')  # backreferences are not linear-time
    assert (info.value.code, info.value.column) == ("bad_regex", 11)
    with pytest.raises(PqlTypeError) as info:
        compile_rule('s.matches("((((a{100}){100}){100}){100})")')  # too big to compile
    assert info.value.code == "bad_regex"


def test_collection_work_is_bounded() -> None:
    events = [{"v": i} for i in range(3000)]
    rule = compile_rule(
        "exists a from xEvent where exists b from xEvent where exists c from xEvent "
        "where a.v + b.v + c.v < 0"
    )
    reads = [0]
    bound = 8 * MAX_WORK  # MAX_WORK items, each read a few times (paths, `xdm:` fallbacks)

    class Counted(dict):  # an event that counts how often a rule reads it
        def get(self, *args):
            reads[0] += 1
            if reads[0] > bound:  # unbounded, this would visit 3000^3 = 2.7e10 triples
                raise AssertionError("the work is not bounded")
            return super().get(*args)

    env = make_env(events=[Counted(e) for e in events])
    for evaluate, gave_up in ((rule, None), (rule.test, False)):
        reads[0] = 0
        assert evaluate(env) is gave_up  # null (false as a test), never an exception
    reads[0] = 0
    with pytest.raises(WorkExceeded):  # the interpreter stops at the same bound
        rule.interpret(env)
    reads[0] = 0
    explanation = rule.explain(env)
    assert explanation.exceeded_work and not explanation.satisfied
    small = make_env(events=events[:10])
    assert rule(small) is False  # the same rule on reasonable data runs normally
    assert MAX_WORK >= 100_000


def test_string_growth_is_bounded() -> None:
    text = "let a = s + s in let b = a + a in let c = b + b in let d = c + c in d + d"
    value = compile_expression(text)(make_env({"s": "x" * 10_000}))
    assert value is None  # past the string bound the result is null


def test_bad_data_never_raises() -> None:
    class Weird(dict):
        def get(self, *_):  # a mapping that breaks
            raise RuntimeError("boom")

    rule = compile_rule("a.b = 1")
    assert rule(make_env(Weird())) is None
    assert rule.test(make_env(Weird())) is False
    assert rule(make_env({"a": {"b": [1, {"c": 2}]}})) is False
