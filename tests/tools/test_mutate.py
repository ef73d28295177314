"""Mutation testing (tools/mutate.py): a mutant is judged on code it compiled itself.

PQL keeps compiled rules in a process-wide cache keyed by the rule's text. Had a mutant's test
process inherited that cache from a process where the unmutated code compiled the same text, the
mutant would never run: a broken code generator would "survive" every test. Two layers make that
impossible; these tests prove the session-start layer. `python -m tools.mutate --prove-isolation`
(docs/testing.md; runs mutmut three times, minutes, so outside the suite) shows a code-generator
mutant that only a cold cache reveals: surviving without either layer, killed with each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tools.mutate import (
    MASKED_MUTANT,
    PROOF,
    VICTIMS,
    default_tests,
    dotted,
    module_path,
    mutant_status,
    parse_args,
)

from nextoffer import pql
from nextoffer.pql import cache as pql_cache
from nextoffer.pql import codegen, parser, runtime
from tests.conftest import clear_process_caches
from tests.pql.conftest import make_env


def test_a_cached_rule_compares_a_boolean_flag() -> None:
    rule = pql.compile_cached("profile.vip = true", "rule")
    assert rule.test(make_env({"vip": True}))
    assert not rule.test(make_env({"vip": False}))
    assert not rule.test(make_env({}))


def test_a_constant_rule_compiles() -> None:
    assert pql.compile_rule("true").test(make_env())


def test_a_session_starts_with_empty_compiled_rule_and_functools_caches() -> None:
    pql.compile_cached("profile.vip = true", "rule")
    pql.compile_rule('profile.tier = "gold" and profile.at occurs before "2026-03-10T12:00:00Z"')
    runtime.parse_datetime("2026-03-10T12:00:00Z")
    parser._lark()  # the full parser, built once (rules that the fast path does not take)
    assert pql_cache._entries
    assert codegen._compile.cache_info().currsize > 0
    assert parser._lark.cache_info().currsize == 1

    cleared = clear_process_caches()

    assert "nextoffer.pql.cache._entries" in cleared
    assert {"nextoffer.pql.codegen._compile", "nextoffer.pql.runtime.parse_datetime"} <= set(
        cleared
    )
    assert not pql_cache._entries
    assert codegen._compile.cache_info().currsize == 0
    assert parser._lark.cache_info().currsize == 0
    assert runtime.parse_datetime.cache_info().currsize == 0


def test_every_functools_cache_of_nextoffer_is_cleared() -> None:
    """A cache added later is cleared too: the hook finds them, it does not list them."""
    import nextoffer.api.app  # noqa: F401  (imports nearly every module)

    cached = {
        f"{name}.{attr}"
        for name, module in list(sys.modules.items())
        if name.startswith("nextoffer") and module is not None
        for attr, value in vars(module).items()
        if hasattr(value, "cache_info") and getattr(value, "__module__", None) == name
    }
    assert "nextoffer.timeutil.instant_or_none" in cached
    assert cached <= set(clear_process_caches())


def test_a_module_maps_to_the_tests_that_mirror_it() -> None:
    path = module_path("nextoffer/capping/windows.py")
    assert path == Path("src/nextoffer/capping/windows.py")
    assert module_path("src/nextoffer/capping/windows.py") == path
    assert module_path("nextoffer.capping.windows") == path
    assert dotted(path) == "nextoffer.capping.windows"
    assert default_tests(path) == ["tests/capping"]
    assert default_tests(module_path("nextoffer/pql/codegen.py")) == ["tests/pql"]
    assert default_tests(module_path("nextoffer/timeutil.py")) == ["tests"]
    assert "tests/capping" in default_tests(module_path("nextoffer/decisioning/capping_gate.py"))
    with pytest.raises(SystemExit, match=r"no such module: src/nextoffer/nope\.py"):
        module_path("nextoffer/nope.py")


def test_the_isolation_proof_names_tests_that_exist_and_a_mutant_of_compare_literal() -> None:
    """`python -m tools.mutate --prove-isolation` (docs/testing.md) runs mutmut three times, too
    slow for the suite; what it relies on is checked here: its victims are the tests above, and
    its mutant mutates the method that compiles `flag = true`."""
    assert VICTIMS == (
        "tests/tools/test_mutate.py::test_a_cached_rule_compares_a_boolean_flag",
        "tests/tools/test_mutate.py::test_a_constant_rule_compiles",
    )
    assert all(v.split("::")[1] in globals() for v in VICTIMS)
    assert MASKED_MUTANT.startswith("xǁCodeGenǁcompare_literal__mutmut_")
    assert hasattr(codegen.CodeGen, "compare_literal")
    assert [expected for *_, expected in PROOF] == ["survived", "killed", "killed"]


def test_the_proof_reads_a_mutant_status_from_the_report() -> None:
    name = "nextoffer.pql.codegen." + MASKED_MUTANT
    survived = f"mutants   1\nkilled    0\nsurvived  1\n\nnot killed (...):\n  survived  {name}\n"
    assert mutant_status(survived, MASKED_MUTANT) == "survived"
    assert mutant_status("mutants   1\nkilled    1\nscore     100.0 %\n", MASKED_MUTANT) == "killed"
    # mutmut lists its results first, an emoji before each name: not a status
    mutmut = f"Mutant results\n--------------\n🙁 {name}\n\n\nmodule    nextoffer/pql/codegen.py\n"
    assert mutant_status(mutmut + survived, MASKED_MUTANT) == "survived"
    killed = f"Mutant results\n--------------\n🎉 {name}\n\nmutants   1\nkilled    1\n"
    assert mutant_status(killed, MASKED_MUTANT) == "killed"
    no_tests = f"mutants   1\nkilled    0\n  no tests  {name}\n"
    assert mutant_status(no_tests, MASKED_MUTANT) == "no tests"
    assert mutant_status("mutants   0\nkilled    0\n", MASKED_MUTANT) == "missing"


def test_the_tool_takes_a_module_or_the_proof() -> None:
    assert parse_args(["--prove-isolation"]).prove_isolation
    assert parse_args(["nextoffer/capping/windows.py"]).module == ["nextoffer/capping/windows.py"]
    several = ["nextoffer/engine/ties.py", "nextoffer/engine/duplicates.py"]
    assert parse_args(several).module == several
    for wrong in ([], ["nextoffer/capping/windows.py", "--prove-isolation"]):
        with pytest.raises(SystemExit) as exit_:
            parse_args(wrong)
        assert exit_.value.code == 2
