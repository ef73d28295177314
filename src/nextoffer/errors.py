"""Domain errors: stable codes and field-level details, free of HTTP.

Every layer below `api/` raises these; `api/problems.py` owns the one table that turns each
class into a status code and an `application/problem+json` body (STYLE.md, practice 4).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One wrong thing, located by a JSON pointer into the body or by a parameter name."""

    message: str
    pointer: str | None = None
    parameter: str | None = None
    code: str | None = None
    """The error's own stable code, when it differs from the problem's."""
    details: Mapping[str, Any] | None = None
    """More about the error (for PQL: line, column and a caret excerpt)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.pointer is not None:
            out["pointer"] = self.pointer
        if self.parameter is not None:
            out["parameter"] = self.parameter
        out["message"] = self.message
        if self.code is not None:
            out["code"] = self.code
        if self.details:
            out.update(self.details)
        return out


@dataclass(eq=False)
class NextofferError(Exception):
    """Base of every error a client can cause; `code` is stable and documented."""

    detail: str
    code: str = "error"
    errors: tuple[FieldError, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    title = "Request failed"

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole (Exception's own pickling keeps only `detail`): an error raised in a
        child process (a bulk load's) reaches the client as the same problem."""
        return (_rebuild, (type(self), {f.name: getattr(self, f.name) for f in fields(self)}))

    @classmethod
    def at(
        cls,
        message: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> NextofferError:
        """Shortcut for the common case of one located error."""
        err = FieldError(message, pointer=pointer, parameter=parameter)
        return cls(message, code=code or cls.default_code, errors=(err,), extra=extra)

    @classmethod
    def many(
        cls, detail: str, errors: Iterable[FieldError], code: str | None = None
    ) -> NextofferError:
        """One problem for several field errors; its code is theirs when they all share one."""
        errors = tuple(errors)
        codes = {e.code for e in errors}
        if code is None and len(codes) == 1 and None not in codes:
            code = codes.pop()
        return cls(detail, code=code or cls.default_code, errors=errors)

    default_code = "error"


class InvalidInput(NextofferError):
    """The request is malformed or breaks the schema (bad JSON, wrong types, bad filter syntax)."""

    title = "Invalid request"
    default_code = "invalid-input"


class NotFound(NextofferError):
    title = "Not found"
    default_code = "not-found"


class MethodNotAllowed(NextofferError):
    title = "Method not allowed"
    default_code = "method-not-allowed"


class Conflict(NextofferError):
    """The request conflicts with the state of other objects (e.g. deleting a referenced object)."""

    title = "Conflict"
    default_code = "conflict"


class PreconditionFailed(NextofferError):
    """An `If-Match` etag is stale: someone else changed the object first."""

    title = "Precondition failed"
    default_code = "stale-etag"


class RuleViolation(NextofferError):
    """A well-formed request that breaks a library rule (references, lifecycle, limits, PQL)."""

    title = "Unprocessable request"
    default_code = "rule-violation"


class TooLarge(NextofferError):
    title = "Payload too large"
    default_code = "too-large"


class UnsupportedMediaType(NextofferError):
    title = "Unsupported media type"
    default_code = "unsupported-media-type"


class Unauthenticated(NextofferError):
    title = "Unauthorized"
    default_code = "unauthenticated"


class Forbidden(NextofferError):
    title = "Forbidden"
    default_code = "forbidden"


class Busy(NextofferError):
    """The database is held by another write for longer than a writer may wait: nothing was
    written, and the client may retry after `extra["retryAfter"]` seconds."""

    title = "Service busy"
    default_code = "busy"

    @classmethod
    def retry_after(cls, detail: str, seconds: float) -> Busy:
        wait = max(1, math.ceil(seconds))
        detail = f"{detail}; nothing was written: retry in {wait} s"
        return cls(detail, code=cls.default_code, extra={"retryAfter": wait})


class RateLimited(NextofferError):
    """Too many requests for a limit; `extra` names the `limit` and says `retryAfter` (seconds)."""

    title = "Too many requests"
    default_code = "rate-limited"


RETRY_AFTER = 5
"""Seconds a client is asked to wait after a dependency outage (`Retry-After`)."""


class DependencyUnavailable(NextofferError):
    """A dependency (the database, the Redis capping store) does not answer: the request may
    succeed later, so it is a 503 with `Retry-After`, never a 500 blamed on the server."""

    title = "Service unavailable"
    default_code = "dependency-unavailable"

    @classmethod
    def of(cls, dependency: str, reason: str) -> DependencyUnavailable:
        return cls(
            f"the {dependency} is unavailable ({reason}); retry later",
            code=cls.default_code,
            extra={"dependency": dependency, "retryAfter": RETRY_AFTER},
        )


def _rebuild(cls: type[NextofferError], values: dict[str, Any]) -> NextofferError:
    return cls(**values)
