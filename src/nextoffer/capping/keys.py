"""Counter keys and whose counters they are (pure).

A key names one counter: `{sandbox}|offer|rule index|window start|placement or *|subject or *`.
The sandbox sits in braces so that a Redis Cluster keeps every counter of a sandbox in one
slot (one Lua call may touch them all). Ids never hold `|`; the subject, which may, comes last.

Counters for a profile are kept across all its identities: the subject is the stored profile
(`pid:<profile id>`) when the identities lead to one, else the primary identity
(`id:<namespace>:<id>`). Without either, per-profile rules cannot count and do not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

ALL = "*"
"""The placement of an across-placements counter, and the subject of an in-total counter."""


def capping_subject(profile_id: str | None, identities: Sequence[tuple[str, str]]) -> str | None:
    """Whose per-profile counters a decision or an event moves (None: nobody's)."""
    if profile_id:
        return f"pid:{profile_id}"
    if identities:
        namespace, value = identities[0]
        return f"id:{namespace}:{value}"
    return None


def rule_prefix(sandbox: str, offer_id: str, rule_index: int) -> str:
    """The part of a key fixed by the catalog (computed once per offer and rule)."""
    return f"{{{sandbox}}}|{offer_id}|{rule_index}|"


def counter_key(prefix: str, window_start: int, placement_id: str, subject: str) -> str:
    return f"{prefix}{window_start}|{placement_id}|{subject}"
