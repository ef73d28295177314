"""Mutation testing of one module against the tests that cover it (mutmut, in-process).

    python -m tools.mutate nextoffer/capping/windows.py
    python -m tools.mutate nextoffer/decisioning/capping_gate.py --tests tests/capping tests/edge
    python -m tools.mutate nextoffer/pql/codegen.py --mutant 'xǁCodeGenǁ_compare*'
    python -m tools.mutate nextoffer/engine/decide.py -m 'not slow'
    python -m tools.mutate nextoffer/engine/ties.py nextoffer/engine/duplicates.py
    python -m tools.mutate --prove-isolation    # a warm rule cache cannot hide a mutant

The module is given as `nextoffer/...py` or `src/nextoffer/...py`. Its tests default to the
folder that mirrors its package (`nextoffer/capping/windows.py` -> `tests/capping`, with a few
modules covered from elsewhere listed in `COVERING_TESTS`); `--tests` replaces them.

Each run starts from an empty `mutants/` (mutmut's work folder, ignored by git): mutmut copies
`src/` and `tests/` there, mutates only the module, collects which selected tests reach each
function (one in-process run of the selected tests), checks that the clean tests pass, then runs
every mutant in a process of its own against only the tests that reach it. The settings shared
by every run are `[tool.mutmut]` in pyproject.toml; this tool adds the per-run ones (which file,
which tests). Each mutant starts from a process that has never run a test: see
`process_isolation` there and `tests/conftest.py` for why compiled rules cannot leak between
mutants.

Prints killed / survived / score and the surviving mutants' names (`--diff` prints their
diffs too); exits 0 unless mutmut itself fails (or `--fail-under` is not met).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COVERING_TESTS: dict[str, list[str]] = {
    # modules whose behaviour is tested mostly outside the folder that mirrors their package
    "nextoffer/decisioning/capping_gate.py": [
        "tests/capping",
        "tests/decisioning",
        "tests/edge/test_feedback_capping.py",
        # what the gate reports under telemetry (the rest of these files is not the gate's)
        "tests/observability/test_metrics.py::test_capped_decisions_count_rejections_and_lost_races",
        "tests/observability/test_tracing.py::test_a_decision_is_a_server_span_with_its_steps_as_children",
    ],
    "nextoffer/decisioning/feedback.py": [
        "tests/edge",
        "tests/capping",
    ],
}

KILLED = {"killed", "timeout"}
"""Statuses that count as caught; a timeout is an infinite loop the tests stopped."""


def module_path(arg: str) -> Path:
    """`src/nextoffer/x/y.py` for `nextoffer/x/y.py`, `src/nextoffer/x/y.py` or `nextoffer.x.y`."""
    text = arg.strip()
    if not text.endswith(".py"):
        text = text.replace(".", "/") + ".py"
    path = Path(text)
    if path.is_absolute():
        path = path.relative_to(ROOT)
    if path.parts[0] != "src":
        path = Path("src") / path
    if not (ROOT / path).is_file():
        raise SystemExit(f"no such module: {path}")
    if path.parts[1] != "nextoffer":
        raise SystemExit(f"not a nextoffer module: {path}")
    return path


def default_tests(path: Path) -> list[str]:
    """The test folders that cover `path`: tests mirror modules (`nextoffer/<pkg>/...` ->
    `tests/<pkg>`); a top-level module (`nextoffer/x.py`) is covered by the whole suite."""
    key = path.relative_to("src").as_posix()
    if key in COVERING_TESTS:
        return COVERING_TESTS[key]
    parts = path.relative_to("src/nextoffer").parts
    if len(parts) > 1 and (ROOT / "tests" / parts[0]).is_dir():
        return [f"tests/{parts[0]}"]
    return ["tests"]


def dotted(path: Path) -> str:
    return ".".join(path.relative_to("src").with_suffix("").parts)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__.split("\n")[0])
    p.add_argument(
        "module",
        nargs="*",
        help="nextoffer/capping/windows.py (or src/..., or dotted); several share one run's "
        "fixed cost (each scored on its own)",
    )
    p.add_argument(
        "--prove-isolation",
        action="store_true",
        help="instead of a module: show that a warm compiled-rule cache cannot hide a mutant "
        "(runs mutmut three times, a few minutes)",
    )
    p.add_argument("--tests", nargs="+", metavar="PATH", help="test files/folders to run")
    p.add_argument(
        "--mutant",
        action="append",
        metavar="GLOB",
        help="only these mutants (after the module: 'x__month_index*', 'xǁPeriodǁwindow*')",
    )
    p.add_argument(
        "-m",
        dest="markexpr",
        metavar="EXPR",
        help="only tests matching this marker expression, e.g. 'not postgres and not slow'",
    )
    p.add_argument(
        "--max-children", type=int, default=1, help="mutants run at once (default 1: shared cores)"
    )
    p.add_argument(
        "--isolation",
        choices=["fork", "forkserver"],
        help="override process_isolation (fork: mutants fork from the process that ran the tests)",
    )
    p.add_argument(
        "--timeout-multiplier",
        type=float,
        metavar="N",
        help="a mutant times out after N x (its tests' clean duration + 1 s) (mutmut: 15); "
        "raise it on a busy machine, where a survivor running all its tests can pass that",
    )
    p.add_argument("--diff", action="store_true", help="print each survivor's diff")
    p.add_argument("--fail-under", type=float, default=None, metavar="SCORE")
    args = p.parse_args(argv)
    if bool(args.module) == args.prove_isolation:
        p.error("give a module to mutate, or --prove-isolation (not both)")
    return args


NEVER_PRELOAD = ("nextoffer", "tests", "tools", "mutmut", "__main__", "__mp_main__", "ray", "grpc")
"""Our code must be imported after the mutant is chosen; ray and grpc do not survive a fork."""

_LIST_MODULES = """
import sys
import pytest
never = set(sys.argv[1].split(","))
pytest.main(["-qq", "--collect-only", "-n", "0", "-p", "no:cacheprovider", *sys.argv[2:]])
for name, module in list(sys.modules.items()):
    spec = getattr(module, "__spec__", None)
    if name.split(".")[0] not in never and spec is not None and spec.name == name:
        print("preload:" + name)
"""


def preload_list(tests: list[str]) -> Path:
    """The third-party and standard modules the selected tests import, in import order, for the
    fork server to import once (mutmut's `forkserver_warmup = "import"`). Found by collecting the
    tests in a process of its own; never a module of ours."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, ",".join(NEVER_PRELOAD), *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    names = [line[8:] for line in done.stdout.splitlines() if line.startswith("preload:")]
    if done.returncode not in (0, 5) or not names:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit("could not collect the tests to list the modules they import")
    target = ROOT / "mutants" / "preload-modules.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(names) + "\n")
    return target


def configure(
    paths: list[Path],
    tests: list[str],
    preload: Path | None,
    isolation: str | None,
    timeout_multiplier: float | None = None,
) -> None:
    """Restrict the pyproject [tool.mutmut] settings to these files and their tests."""
    from mutmut.configuration import ProcessIsolation, config

    cfg = config()
    if isolation:
        cfg.process_isolation = ProcessIsolation(isolation)
    cfg.only_mutate = [path.as_posix() for path in paths]
    if timeout_multiplier is not None:
        cfg.timeout_multiplier = timeout_multiplier
    cfg.pytest_add_cli_args_test_selection = list(tests)
    if preload is not None:
        cfg.preload_modules_file = str(preload)


def results(path: Path, names: list[str]) -> dict[str, str]:
    """The status of each mutant of `path` matching one of `names` (globs)."""
    from fnmatch import fnmatchcase

    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    data = SourceFileMutationData(path=path)
    data.load()
    return {
        name: status_by_exit_code[code]
        for name, code in sorted(data.exit_code_by_key.items())
        if any(fnmatchcase(name, pattern) for pattern in names)
    }


def report(path: Path, statuses: dict[str, str], diff: bool) -> float:
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    total = len(statuses)
    score = 100.0 * killed / total if total else 100.0
    survivors = [name for name, status in statuses.items() if status not in KILLED]
    print()
    print(f"module    {path.relative_to('src').as_posix()}")
    print(f"mutants   {total}")
    timeouts = f" ({counts['timeout']} by timeout)" if counts["timeout"] else ""
    print(f"killed    {killed}{timeouts}")
    for status in sorted(set(counts) - KILLED):
        print(f"{status:<9} {counts[status]}")
    print(f"score     {score:.1f} %")
    if survivors:
        print()
        print("not killed (`--diff` prints their diffs; `mutmut show NAME` one of them):")
        for name in survivors:
            print(f"  {statuses[name]:<9} {name}")
    if diff and survivors:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        for name in survivors:
            print()
            print(f"# {name}: {statuses[name]}")
            print(get_diff_for_mutant(name, path=path))
    return score


# -- the isolation proof ---------------------------------------------------------------------

MASKED_MUTANT = "xǁCodeGenǁcompare_literal__mutmut_3"
"""`if op == "=":` -> `if op != "=":` for a boolean literal: `flag = true` tests `is False`."""
VICTIMS = (
    "tests/tools/test_mutate.py::test_a_cached_rule_compares_a_boolean_flag",
    # compiles afresh every time, so that mutmut's forced-failure check fails even when the
    # cache hides the code generator from the test above
    "tests/tools/test_mutate.py::test_a_constant_rule_compiles",
)
PROOF: tuple[tuple[str, str, tuple[str, ...], dict[str, str], str], ...] = (
    # (isolation, session-start hook, extra arguments, environment, expected status)
    (
        "`fork` (forked from the process that ran the stats and clean runs)",
        "disabled (`NEXTOFFER_KEEP_PROCESS_CACHES=1`)",
        ("--isolation", "fork"),
        {"NEXTOFFER_KEEP_PROCESS_CACHES": "1"},
        "survived",
    ),
    ("`fork`", "on", ("--isolation", "fork"), {}, "killed"),
    ("`forkserver` (the project's setting)", "on", (), {}, "killed"),
)
"""The control first: a mutant forked from a process whose caches hold the rule compiled by the
unmutated code survives, which shows the victim test does compile through the cache; each of
the two layers alone then gets it killed."""


def mutant_status(output: str, name: str) -> str:
    """The status `report` printed for one mutant (`killed` when it is not listed as not
    killed and the run killed one). mutmut's own listing before it (`🙁 name`, `🎉 name`) is
    not a status: a status is words."""
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[-1].endswith(name) and words[0].isalpha():
            return " ".join(words[:-1])
    return "killed" if "\nkilled    1" in output else "missing"


def prove_isolation() -> int:
    """Run the masked code-generator mutant under each isolation of `PROOF`; 0 when each ends
    as expected (a table on stdout), 1 otherwise."""
    import subprocess

    failures = 0
    print("| isolation | session-start hook | expected | result |")
    print("|---|---|---|---|", flush=True)
    for isolation, hook, extra, env, expected in PROOF:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.mutate",
                "nextoffer/pql/codegen.py",
                "--tests",
                *VICTIMS,
                "--mutant",
                MASKED_MUTANT,
                *extra,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        status = mutant_status(done.stdout, MASKED_MUTANT) if done.returncode == 0 else "error"
        ok = status == expected
        failures += not ok
        mark = "" if ok else " **(wrong)**"
        print(f"| {isolation} | {hook} | {expected} | {status}{mark} |", flush=True)
        if not ok:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.chdir(ROOT)  # mutmut reads ./pyproject.toml and works in ./mutants
    if args.prove_isolation:
        return prove_isolation()
    paths = [module_path(m) for m in args.module]
    tests = args.tests or list(dict.fromkeys(t for path in paths for t in default_tests(path)))
    for t in tests:
        if not (ROOT / t.split("::")[0]).exists():
            raise SystemExit(f"no such tests: {t}")
    globs = args.mutant or ["*"]
    names = [f"{dotted(path)}.{m}" for path in paths for m in globs]
    print(f"mutating {' '.join(map(str, paths))} against {' '.join(tests)}", flush=True)

    shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale stats or results
    selection = [*tests, "-m", args.markexpr] if args.markexpr else tests
    configure(paths, selection, preload_list(selection), args.isolation, args.timeout_multiplier)
    from mutmut.__main__ import _run

    _run(names, args.max_children)
    scores = [
        report(path, results(path, [f"{dotted(path)}.{m}" for m in globs]), args.diff)
        for path in paths
    ]
    if args.fail_under is not None and min(scores) < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
