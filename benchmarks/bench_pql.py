"""PQL benchmark: one rule evaluated by the generated code and by the tree-walking interpreter,
side by side in the same run, and 10,000 distinct rules parsed and compiled from cold.

    python benchmarks/bench_pql.py [--rules 10000] [--seed 7]

Timings are the best of several repeats (the least disturbed by other work on the machine),
with the generated code and the interpreter measured in alternation; every compiled rule is run
on both back ends and must agree, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nextoffer.pql import Env, clear_cache, compile_rule
from nextoffer.pql.codegen import _compile

RULE = (
    'profile.age >= 18 and profile.tier in ["gold","platinum"] and @{ctx}.channel = "web" '
    "and not(profile.optedOut = true)"
)
NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)


def per_call(fn: Callable[[], Any], number: int, repeat: int = 7) -> float:
    """Best-of-``repeat`` seconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


# ---- 10,000 distinct rules --------------------------------------------------------------------

NUMBERS = ["age", "loyalty.points", "lifetimeValue", "cart.total", "visits.count"]
STRINGS = ["tier", "person.name.firstName", "homeAddress.city", "preferredChannel", "job.title"]
DATES = ["person.birthDate", "lastPurchase.date", "signupDate", "lastVisit"]
FLAGS = ["optedOut", "emailVerified", "isEmployee"]
CITIES = ["Paris", "Lyon", "San Jose", "Berlin", "Tokyo", "Austin"]


def _clause(rng: random.Random) -> str:
    """One condition, each attribute used with one type (as a real author would)."""
    num, text, date, flag = (rng.choice(x) for x in (NUMBERS, STRINGS, DATES, FLAGS))
    n = rng.randint(0, 5000)
    s = rng.choice(CITIES) + str(rng.randint(0, 999))
    templates = [
        f"{num} >= {n}",
        f"{num} < {n}.5",
        f"{num} notIn [{n}, {n + 1}]",
        f"if({num} > {n}, {num} * 2, {n}) > {n + 7}",
        f'{text} = "{s}"',
        f'{text}.equals("{s}", false)',
        f'{text}.startsWith("{s[:3]}")',
        f'{text}.contains("{s[1:4]}", false)',
        f'{text} in ["{s}", "{rng.choice(CITIES)}"]',
        f'{text} like "%{s[:2]}%"',
        f"{text}.isNotNull()",
        f"not({flag} = true)",
        f"{flag}",
        f'inSegment("{rng.getrandbits(64):016x}")',
        f"@{{_xdm.context.additionalParameters;version=1}}.{rng.choice(['channel', 'weather'])}"
        f' = "{s}"',
        f"{date} occurs <= {rng.randint(1, 30)} days before now",
        f"{date} occurs {rng.choice(['today', 'this month', 'last 7 days', 'yesterday'])}",
        f"{date}.getMonth() = currentMonth()",
        f'exists o from orders where o.sku = "{s}" and o.amount > {n}',
        f'(select e from xEvent where e.eventType = "{s}").count() > {rng.randint(0, 5)}',
    ]
    return rng.choice(templates)


def distinct_rules(count: int, seed: int) -> list[str]:
    """Rules like a catalog's: one to four clauses joined by and/or, with varied literals."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        clauses = [_clause(rng) for _ in range(rng.randint(1, 4))]
        text = clauses[0]
        for clause in clauses[1:]:
            text += rng.choice([" and ", " or ", " and (", " or not "]) + clause
            text += ")" * (text.count("(") - text.count(")"))
        out[text] = None
    return list(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="cold compile runs (best kept)")
    args = parser.parse_args()

    rule = compile_rule(RULE)
    env = Env(
        {"age": 34, "tier": "gold", "optedOut": False},
        now=NOW,
        context={"ctx": {"xdm:channel": "web"}},
    )
    assert rule.test(env) is True and rule.interpret(env) is True
    miss = Env({"age": 34, "tier": "silver"}, now=NOW)
    assert rule.test(miss) is False and rule.interpret(miss) is False

    # Alternate the two back ends so a busy moment on the machine hits both alike.
    compiled_runs, raw_runs, interp_runs = [], [], []
    for _ in range(7):
        compiled_runs.append(per_call(lambda: rule.test(env), 100_000, repeat=1))
        raw_runs.append(per_call(lambda: rule(env), 100_000, repeat=1))
        interp_runs.append(per_call(lambda: rule.interpret(env), 5_000, repeat=1))
    compiled_s, raw_s, interp_s = min(compiled_runs), min(raw_runs), min(interp_runs)

    texts = distinct_rules(args.rules, args.seed)
    compile_runs = []
    for _ in range(args.repeat):
        clear_cache()
        _compile.cache_clear()  # cold: no generated code shared with an earlier run
        gc.collect()
        start = time.perf_counter()
        compiled = [compile_rule(t) for t in texts]
        compile_runs.append(time.perf_counter() - start)
    compile_s = min(compile_runs)
    shapes = _compile.cache_info().misses
    probe = Env({"age": 40, "tier": "gold", "orders": [{"sku": "Paris1", "amount": 9}]}, now=NOW)
    for c in compiled:  # every one of them runs, on both back ends, to the same value
        assert c.evaluate(probe) == c.interpret(probe), c.text

    print(
        f"PQL benchmark -- {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()} {sys.platform}, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print()
    print(f"rule: {RULE}")
    print()
    print(f"| {'measure':<46} | {'value':>12} |")
    print(f"|{'-' * 48}|{'-' * 14}|")
    print(f"| {'compiled rule, Compiled.test(env), per call':<46} | {compiled_s * 1e6:>9.3f} µs |")
    print(f"| {'compiled rule, Compiled(env), per call':<46} | {raw_s * 1e6:>9.3f} µs |")
    print(f"| {'tree-walking interpreter, per call':<46} | {interp_s * 1e6:>9.3f} µs |")
    print(f"| {'speed-up of compiled over interpreter':<46} | {interp_s / compiled_s:>10.1f} x |")
    label = f"parse + compile {len(texts):,} distinct rules"
    print(f"| {label:<46} | {compile_s:>10.2f} s |")
    slowest = f"  slowest of {len(compile_runs)} cold runs"
    print(f"| {slowest:<46} | {max(compile_runs):>10.2f} s |")
    print(f"| {'  per rule':<46} | {compile_s / len(texts) * 1e6:>9.0f} µs |")
    print(f"| {'  distinct generated functions (compile())':<46} | {shapes:>12,} |")
    avg = sum(map(len, texts)) / len(texts)
    print(f"| {'  mean rule length':<46} | {avg:>8.0f} chars |")


if __name__ == "__main__":
    main()
