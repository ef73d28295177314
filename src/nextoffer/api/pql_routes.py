"""`POST /v1/pql/check`: compile a rule or formula without saving it (the console's editor
checks its Condition box with it as the author types)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_json_bytes
from nextoffer.api.context import call_of, json_response, offload
from nextoffer.api.msgspec_errors import decode
from nextoffer.library.pql_check import check_pql
from nextoffer.pql import Diagnosis, Diagnostic

MAX_CHECK_BYTES = 64 * 1024
"""A body larger than this is refused (413). The text itself may be as long as this allows:
past a rule's 15 KB (a formula's 8 KB) it is answered as invalid, with the same `limit` error a
save would give, pointing where the text crosses the limit."""


class PqlCheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A text to check: a rule's `condition` or a ranking formula's expression."""

    condition: str
    kind: Literal["rule", "formula"] = "rule"
    definedOn: dict[str, Any] | None = None
    """A formula's aliases, as in the formula's own `definedOn`."""


def diagnostic(d: Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": d.code,
        "phase": d.phase,
        "message": d.message,
        "line": d.line,
        "column": d.column,
        "endLine": d.end_line,
        "endColumn": d.end_column,
        "excerpt": d.excerpt,
    }
    if d.hint:
        out["hint"] = d.hint
    return out


def answer(diagnosis: Diagnosis, kind: str) -> dict[str, Any]:
    if not diagnosis.valid:
        return {"valid": False, "kind": kind, "errors": [diagnostic(d) for d in diagnosis.errors]}
    reads = diagnosis.reads
    assert reads is not None
    return {
        "valid": True,
        "kind": kind,
        "reads": {
            "profile": sorted(reads.profile),
            "context": [{"type": t, "path": p} for t, p in sorted(reads.context)],
            "events": sorted(reads.events),
            "audiences": sorted(reads.segments),
            "offer": sorted(reads.offer),
            "aliases": [{"alias": a, "path": p} for a, p in sorted(reads.aliases)],
        },
    }


async def check(request: Request) -> Response:
    call_of(request)
    body = await read_json_bytes(request, MAX_CHECK_BYTES)
    req = decode(body, PqlCheckRequest, "the check request")
    assert isinstance(req, PqlCheckRequest)
    # compiling a long text takes a while: off the event loop, like every other request's work
    diagnosis = await offload(request, check_pql, req.condition, req.kind, req.definedOn)
    return json_response(answer(diagnosis, req.kind))


def pql_routes() -> list[Route]:
    return [Route("/v1/pql/check", check, methods=["POST"])]
