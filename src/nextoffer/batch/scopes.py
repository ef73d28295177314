"""`DECISION:PLACEMENT[:N]` scope arguments, where the ids themselves contain colons.

`dps:offer-activity:1a2b:dps:offer-placement:3c4d:2` splits where the left part is a decision
and the right part a placement of the catalog; failing that, before the placement id's own
prefix. `DECISION,PLACEMENT[,N]` (as `nextoffer decide` takes it) works too.
"""

from __future__ import annotations

import re

from nextoffer.engine import Catalog, ScopeRequest

_PLACEMENT_ID = re.compile(r"(?:^|:)((?:dps|xcore):offer-placement:)")


class ScopeSyntaxError(ValueError):
    pass


def parse_scope(text: str, catalog: Catalog) -> ScopeRequest:
    if "," in text:
        parts = text.split(",")
        if len(parts) not in (2, 3) or not all(parts):
            raise ScopeSyntaxError(f"--scope {text!r} is not DECISION,PLACEMENT[,N]")
        return ScopeRequest(parts[0], parts[1], _count(text, parts[2]) if len(parts) == 3 else None)
    readings: list[tuple[str, int | None]] = []
    head, sep, tail = text.rpartition(":")
    bad_count = None
    if sep and tail.isdigit():
        try:
            readings.append((head, _count(text, tail)))
        except ScopeSyntaxError as exc:
            bad_count = exc  # unless the digits end an id
    readings.append((text, None))
    if bad_count is not None and _known_split(head, catalog) is not None:
        raise bad_count
    for body, count in readings:  # ids the catalog knows first
        i = _known_split(body, catalog)
        if i is not None:
            return ScopeRequest(body[:i], body[i + 1 :], count)
    for body, count in readings:
        m = _PLACEMENT_ID.search(body, 1)
        if m is not None and m.start(1) > 1 and m.end(1) < len(body):
            return ScopeRequest(body[: m.start(1) - 1], body[m.start(1) :], count)
    if bad_count is not None:
        raise bad_count
    raise ScopeSyntaxError(
        f"--scope {text!r}: cannot tell the decision from the placement; "
        "write DECISION:PLACEMENT[:N] with ids of this sandbox, or DECISION,PLACEMENT[,N]"
    )


def _known_split(body: str, catalog: Catalog) -> int | None:
    for i, ch in enumerate(body):
        if ch == ":" and body[:i] in catalog.decisions and body[i + 1 :] in catalog.placements:
            return i
    return None


def _count(text: str, raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 30:
        raise ScopeSyntaxError(f"--scope {text!r}: the item count must be 1 to 30")
    return int(raw)
