"""The house rules of DESIGN.md §1, read from the imports of `src/` (ast, no third-party tool).

Three tiers plus shared leaf modules; imports run downward only:

    adapters   api/  console/  store/  cli  composition (the composition root)  demo/
               observability/
    services   library/  decisioning/  edge/  batch/
    core       pql/  engine/  profiles/  capping/  records/  wire/  ratelimit/  ranking/
    leaves     errors  timeutil  vocabulary  tenants  ids  memory  caching  jsonlines  config
               patterns
               telemetry

Every import counts, including those made inside functions or under `TYPE_CHECKING`: an
upward reference for typing only is still a reference a reader must follow upward.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import parse_source

SRC = Path(__file__).resolve().parents[1] / "src" / "nextoffer"

LEAVES = frozenset(
    {
        "nextoffer",
        "errors",
        "timeutil",
        "vocabulary",
        "tenants",
        "ids",
        "memory",
        "caching",
        "jsonlines",
        "config",
        "patterns",
        "telemetry",
    }
)
CORE = frozenset(
    {"pql", "engine", "profiles", "capping", "records", "wire", "ratelimit", "ranking"}
)
SERVICES = frozenset({"library", "decisioning", "edge", "batch"})
ADAPTERS = frozenset(
    {"api", "console", "store", "cli", "composition", "demo", "observability", "__main__"}
)
TIER = {
    **dict.fromkeys(LEAVES, 0),
    **dict.fromkeys(CORE, 1),
    **dict.fromkeys(SERVICES, 2),
    **dict.fromkeys(ADAPTERS, 3),
}
BOTTOM_OF_CORE = {
    # package: what else in the core it may import (besides leaves)
    "pql": frozenset(),
    "profiles": frozenset(),
    "records": frozenset(),
    "engine": frozenset({"pql"}),
}


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module, dotted (`nextoffer.api.app`)."""
    target: str
    """The imported module, dotted (a package's `__init__` is the package)."""
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports() -> Iterator[Import]:
    modules = _modules()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(parse_source(path)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "nextoffer":
                        yield Import(name, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if target.split(".")[0] != "nextoffer":
                    continue
                for alias in node.names:  # `from pkg import module` imports the module
                    full = f"{target}.{alias.name}"
                    yield Import(name, full if full in modules else target, node.lineno)


def unit(module: str) -> str:
    """The top-level unit a module belongs to: its package below `nextoffer`, or the leaf."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "nextoffer"


IMPORTS = list(_imports())


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _where(pairs: set[tuple[str, str]]) -> list[str]:
    return sorted(
        f"{i.source}:{i.line} -> {i.target}"
        for i in IMPORTS
        if (unit(i.source), unit(i.target)) in pairs
    )


def test_every_unit_has_a_tier() -> None:
    units = {unit(m) for m in _modules()}
    assert units - TIER.keys() == set(), "give each new package or leaf module a tier here"


def test_no_import_loop_between_packages() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for i in IMPORTS:
        if unit(i.source) != unit(i.target):
            edges[unit(i.source)].add(unit(i.target))
    assert _cycles(edges) == []


def test_imports_run_downward_only() -> None:
    upward = {
        (unit(i.source), unit(i.target))
        for i in IMPORTS
        if TIER[unit(i.target)] > TIER[unit(i.source)]
    }
    assert _where(upward) == []


def test_the_bottom_of_the_core_imports_nothing_above_it() -> None:
    wrong = {
        (unit(i.source), unit(i.target))
        for i in IMPORTS
        if unit(i.source) in BOTTOM_OF_CORE
        and unit(i.target) != unit(i.source)
        and TIER[unit(i.target)] > 0
        and unit(i.target) not in BOTTOM_OF_CORE[unit(i.source)]
    }
    assert _where(wrong) == []


@pytest.mark.parametrize("adapter", ["store", "api"])
def test_store_and_api_stay_apart_from_each_other(adapter: str) -> None:
    """The store implements ports and imports no service; routes reach stores only through the
    services the composition root wired."""
    forbidden = (SERVICES | {"api", "cli", "composition"}) if adapter == "store" else {"store"}
    wrong = {
        (unit(i.source), unit(i.target))
        for i in IMPORTS
        if unit(i.source) == adapter and unit(i.target) in forbidden
    }
    assert _where(wrong) == []


def test_the_cli_uses_the_http_layer_only_to_serve_it() -> None:
    wrong = sorted(
        f"{i.source}:{i.line} -> {i.target}"
        for i in IMPORTS
        if unit(i.source) == "cli" and unit(i.target) == "api" and i.target != "nextoffer.api.app"
    )
    assert wrong == []


def test_no_file_level_import_circle_in_api() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for i in IMPORTS:
        if unit(i.source) == unit(i.target) == "api" and i.source != i.target:
            edges[i.source].add(i.target)
    assert _cycles(edges) == []


def test_the_checker_sees_a_loop_when_there_is_one() -> None:
    """The cycle finder itself: a real loop is reported, a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []
