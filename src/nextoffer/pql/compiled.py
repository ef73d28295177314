"""The compile pipeline and its product: text -> limits -> AST -> checks -> Python function.

:class:`Compiled` is what the engine keeps per rule: call it per request.  It never raises on
data; :meth:`Compiled.evaluate` is the raw form (it lets :class:`WorkExceeded` through) that
tests compare with :meth:`Compiled.interpret`, the reference interpreter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from . import ast as A
from .checker import check
from .codegen import generate
from .errors import PqlLimitError
from .explain import Explanation, explain
from .interpreter import evaluate
from .limits import check_text
from .parser import parse
from .reads import Reads, ReadSet
from .runtime import WorkExceeded

KINDS = ("rule", "formula", "expression")
_RESERVED_ROOTS = frozenset({"profile", "offer", "xEvent", "segmentMembership", "person"})


def cache_key(kind: str, aliases: Iterable[str], text: str) -> str:
    """sha256 over (kind, aliases, text): the identity of a compiled rule."""
    names = ",".join(sorted(set(aliases)))
    return hashlib.sha256(f"{kind}\0{names}\0{text}".encode()).hexdigest()


class Compiled:
    """A compiled rule or formula: callable per request, cheap to share between threads."""

    __slots__ = ("_fn", "_reads", "_root", "aliases", "digest", "kind", "source", "text")

    def __init__(
        self,
        text: str,
        kind: str,
        aliases: tuple[str, ...],
        digest: str,
        source: str,
        reads: ReadSet | Reads,
        fn: Callable[[Any], Any],
    ):
        self.text, self.kind, self.aliases, self.digest = text, kind, aliases, digest
        self.source, self._reads, self._fn = source, reads, fn
        self._root: A.Node | None = None

    def tree(self) -> A.Node:
        """The checked AST, for the interpreter and explanations.

        Rebuilt from the text on first use rather than kept from compiling: a catalog holds
        thousands of rules, and their trees would only weigh on memory and the garbage
        collector on the way to being explained now and then.
        """
        if self._root is None:
            self._root = check(parse(self.text), self.text, self.kind, self.aliases).root
        return self._root

    @property
    def reads(self) -> Reads:
        """The profile, context, event, offer and audience fields this reads (built lazily)."""
        if not isinstance(self._reads, Reads):
            self._reads = self._reads.freeze()
        return self._reads

    def __call__(self, env: Any) -> Any:
        """The raw value (None is null).  Never raises on data: any failure is null."""
        try:
            return self._fn(env)
        except Exception:  # WorkExceeded, or anything odd in caller-supplied data
            return None

    def test(self, env: Any) -> bool:
        """Whether a rule is satisfied: its value is exactly true (or a non-empty select)."""
        try:
            v = self._fn(env)
        except Exception:
            return False
        return v is True or (v.__class__ is list and len(v) > 0)

    def evaluate(self, env: Any) -> Any:
        """Like calling, but lets :class:`WorkExceeded` and bugs through (for tests)."""
        return self._fn(env)

    def interpret(self, env: Any) -> Any:
        """The reference interpreter's value for ``env`` (raises WorkExceeded like evaluate)."""
        return evaluate(self.tree(), env)

    def explain(self, env: Any) -> Explanation:
        return explain(self.tree(), self.text, env, self.kind)

    def __repr__(self) -> str:
        return f"Compiled({self.kind}, {self.text[:60]!r}, digest={self.digest[:12]})"


def compile_text(text: str, kind: str, aliases: Iterable[str] = ()) -> Compiled:
    """Run every phase; raises a :class:`PqlError` subclass on any problem in ``text``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not isinstance(text, str):
        raise TypeError(f"PQL text must be a str, not {type(text).__name__}")
    names = tuple(sorted(set(aliases)))
    for name in names:
        if not name.isidentifier() or name in _RESERVED_ROOTS or name.startswith("_"):
            raise ValueError(f"{name!r} cannot be a formula alias")
    check_text(text, kind)
    checked = check(parse(text), text, kind, names)
    try:
        source, fn = generate(checked)
    except (
        RecursionError,
        MemoryError,
        SyntaxError,
    ) as exc:  # pragma: no cover - guarded by limits
        raise PqlLimitError(
            "too_complex", "The expression is too complex to compile", text, 1, 1
        ) from exc
    return Compiled(
        text,
        kind,
        names,
        cache_key(kind, names, text),
        source,
        checked.reads,
        fn,
    )


__all__ = ["Compiled", "WorkExceeded", "cache_key", "compile_text"]
