"""PQL string matching before and after issue 15, side by side in one run.

    python benchmarks/bench_pql_like.py [--attack-bytes 1000000]

*old*: ``like`` as it ran before -- the pattern translated to RE2 and ``fullmatch``-ed on the
whole string.  *new*: :func:`nextoffer.pql.patterns.like` -- literal text and ``%`` matched by
``startswith``/``find`` without a regex, RE2 for the rest.  Both answer every case and must
agree.  Then the attack (a 14 KB ``like`` of 7,000 ``%`` against a 1 MB string): the old way,
the new matcher on the same input (bypassing the compile-time limit that now refuses it), and
what a rule does today.  Last, rules whose string work sits in two nested loops over 1,000
events of 40 KB strings: how long the work budget lets them run before they give up.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import re2

from nextoffer.pql import Env, PqlLimitError, compile_rule
from nextoffer.pql.patterns import LiteralLike, like, like_to_regex

NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)

NORMAL = [  # (pattern, case-sensitive, text)
    ("A%", True, "Ada Lovelace"),
    ("%@example.com", True, "ada.lovelace@example.com"),
    ("%gold%", True, "member: gold tier since 2019"),
    ("%-%-%", True, "2026-03-15"),
    ("SKU-____", True, "SKU-1234"),
    ("a%", False, "Ada Lovelace"),
]


def old_like(pattern: str, case_sensitive: bool) -> Any:
    """The pre-issue-15 matcher: RE2, compiled once, on the whole string."""
    options = re2.Options()
    options.max_mem = 1 << 20
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.dot_nl = True
    return re2.compile(like_to_regex(pattern), options)


def per_call(fn: Callable[[], Any], number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def normal_rules() -> None:
    print("\n## normal like patterns (per match, best of 7)\n")
    print("| pattern | text | old (RE2) | new | new matcher |")
    print("|---|---|---|---|---|")
    for pattern, cs, text in NORMAL:
        old, new = old_like(pattern, cs), like(pattern, cs)
        assert (old.fullmatch(text) is not None) is new.full(text), pattern
        t_old = per_call(lambda old=old, text=text: old.fullmatch(text), 20_000)
        t_new = per_call(lambda new=new, text=text: new.full(text), 20_000)
        label = pattern if cs else f"{pattern} (case-insensitive)"
        print(
            f"| `{label}` | `{text}` | {t_old * 1e6:.2f} µs | {t_new * 1e6:.2f} µs "
            f"| {type(new).__name__} |"
        )
    env = Env({"name": "Ada Lovelace", "email": "ada.lovelace@example.com"}, now=NOW)
    rule = compile_rule('name like "A%" and email like "%@example.com"')
    print(f"\nthe rule `{rule.text}`, Compiled.test per call: ", end="")
    print(f"{per_call(lambda: rule.test(env), 20_000) * 1e6:.2f} µs")


def attack(size: int) -> None:
    pattern = "%a" * 7_000 + "%"
    text = ("b" * 999 + "a") * (size // 1_000)
    print(f"\n## the attack: a {len(pattern):,}-character like against {len(text):,} characters\n")
    t_old, v_old = once(lambda: old_like(pattern, True).fullmatch(text) is not None)
    matcher = LiteralLike(pattern.split("%"))
    t_new, v_new = once(lambda: matcher.full(text))
    assert v_old is v_new
    print("| | time | result |")
    print("|---|---|---|")
    print(f"| old: RE2 on the whole string | {t_old:.2f} s | {v_old} |")
    print(f"| new matcher, same input (no limits) | {t_new * 1e3:.2f} ms | {v_new} |")
    try:
        compile_rule(f'note like "{pattern}"')
        print("| new: the rule | compiled?! | |")
    except PqlLimitError as exc:
        print(f"| new: the rule | refused at compile time | `{exc.code}` |")


LOOPS = [
    'b.f.contains("zz", false)',
    'b.f like "%zz%"',
    'b.f.matches(".*zz.*")',
    "b.f = a.f and b.i != a.i",
]


def loops() -> None:
    events = [{"i": i, "f": f"{i:05d}" + "y" * 39_995} for i in range(1_000)]
    env = Env({}, now=NOW, events=events)
    print("\n## string work in two nested loops (1,000 events of 40 KB): time to give up\n")
    print("| condition | time | value |")
    print("|---|---|---|")
    for condition in LOOPS:
        rule = compile_rule(f"exists a from xEvent where exists b from xEvent where {condition}")
        elapsed, value = once(lambda rule=rule: rule(env))
        print(f"| `{condition}` | {elapsed * 1e3:.0f} ms | {value} |")
    rule = compile_rule("exists a from xEvent where exists b from xEvent where a.i + b.i < 0")
    elapsed, value = once(lambda: rule(env))
    print(
        f"| `a.i + b.i < 0` (no strings: the item budget alone) | {elapsed * 1e3:.0f} ms "
        f"| {value} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attack-bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"# bench_pql_like: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}"
    )
    normal_rules()
    attack(args.attack_bytes)
    loops()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
