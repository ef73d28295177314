"""Mutation testing (tools/mutate.py): a mutant is judged on code it compiled itself.

PQL keeps compiled rules in a process-wide cache keyed by the rule's text. Had a mutant's test
process inherited that cache from a process where the unmutated code compiled the same text, the
mutant would never run: a broken code generator would "survive" every test. Two layers make that
impossible; these tests prove each, and (with mutmut installed and NEXTOFFER_TEST_MUTATION=1) run
mutmut to show a code-generator mutant that only a cold cache reveals being killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tools.mutate import default_tests, dotted, module_path

from nextoffer import pql
from nextoffer.pql import cache as pql_cache
from nextoffer.pql import codegen, parser, runtime
from tests.conftest import clear_process_caches
from tests.pql.conftest import make_env

ROOT = Path(__file__).resolve().parents[2]
VICTIMS = (
    "tests/tools/test_mutate.py::test_a_cached_rule_compares_a_boolean_flag",
    # compiles afresh every time, so that mutmut's forced-failure check fails even when the
    # cache hides the code generator from the test above
    "tests/tools/test_mutate.py::test_a_constant_rule_compiles",
)
MASKED_MUTANT = "nextoffer.pql.codegen.xǁCodeGenǁcompare_literal__mutmut_3"
"""`if op == "=":` -> `if op != "=":` for a boolean literal: `flag = true` tests `is False`."""


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


def mutate(*args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tools.mutate", "nextoffer/pql/codegen.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.split("\nmodule ")[-1]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("NEXTOFFER_TEST_MUTATION") != "1",
    reason="runs mutmut three times (~5 min): set NEXTOFFER_TEST_MUTATION=1",
)
def test_a_codegen_mutant_hidden_by_a_warm_cache_is_killed() -> None:
    """Forked from a process that compiled the rule with the unmutated code and kept its
    caches, the mutant survives; with the caches emptied at session start, or in the fork server
    the project is configured with (where our code is imported after the mutant is chosen),
    it is killed."""
    pytest.importorskip("mutmut")
    args = ("--tests", *VICTIMS, "--mutant", MASKED_MUTANT.rpartition(".")[2])
    masked = mutate(*args, "--isolation", "fork", NEXTOFFER_KEEP_PROCESS_CACHES="1")
    assert f"survived  {MASKED_MUTANT}" in masked, masked
    for run in (
        mutate(*args, "--isolation", "fork"),
        mutate(*args),
    ):
        assert "killed    1" in run and "score     100.0 %" in run, run
