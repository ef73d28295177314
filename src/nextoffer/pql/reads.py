"""What a rule reads: the profile, context, event, offer and audience fields it touches.

The engine uses this to fetch only what a rule needs and to explain decisions; the checker
fills a :class:`ReadSet` while it resolves names, and the limits on profile and context
attributes are counted from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ast import Span


@dataclass(frozen=True, slots=True)
class Reads:
    """Fields a compiled rule reads.  A dotted path implies its prefixes are read too."""

    profile: frozenset[str] = frozenset()
    context: frozenset[tuple[str, str]] = frozenset()
    events: frozenset[str] = frozenset()
    offer: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    aliases: frozenset[tuple[str, str]] = frozenset()


def _maximal(
    paths: dict[tuple[str, tuple[str, ...]], Span],
) -> dict[tuple[str, tuple[str, ...]], Span]:
    """Drop paths that are only prefixes of longer ones read under the same key."""
    prefixes = {(group, segs[:i]) for group, segs in paths for i in range(len(segs))}
    return {key: span for key, span in paths.items() if key not in prefixes}


@dataclass(slots=True)
class ReadSet:
    """Reads gathered during checking, each with the span of its first use (for limits)."""

    profile: dict[tuple[str, tuple[str, ...]], Span] = field(default_factory=dict)
    context: dict[tuple[str, tuple[str, ...]], Span] = field(default_factory=dict)
    events: dict[tuple[str, tuple[str, ...]], Span] = field(default_factory=dict)
    offer: dict[tuple[str, tuple[str, ...]], Span] = field(default_factory=dict)
    aliases: dict[tuple[str, tuple[str, ...]], Span] = field(default_factory=dict)
    segments: dict[str, Span] = field(default_factory=dict)

    def add(self, kind: str, group: str, segs: tuple[str, ...], span: Span) -> None:
        getattr(self, kind).setdefault((group, segs), span)

    def attributes(self, kind: str) -> list[tuple[tuple[str, tuple[str, ...]], Span]]:
        """Distinct attributes in order of first use, prefixes folded into longer paths."""
        paths = getattr(self, kind)
        if len(paths) < 2:
            return list(paths.items())
        return sorted(_maximal(paths).items(), key=lambda kv: kv[1].start)

    def freeze(self) -> Reads:
        def dotted(kind: str) -> frozenset[str]:
            paths = getattr(self, kind)
            keys = _maximal(paths) if len(paths) > 1 else paths
            return frozenset(".".join(s) for _, s in keys if s)

        def keyed(kind: str) -> frozenset[tuple[str, str]]:
            paths = getattr(self, kind)
            keys = _maximal(paths) if len(paths) > 1 else paths
            return frozenset((g, ".".join(s)) for g, s in keys)

        return Reads(
            profile=dotted("profile"),
            context=keyed("context"),
            events=dotted("events"),
            offer=dotted("offer"),
            segments=frozenset(self.segments),
            aliases=keyed("aliases"),
        )
