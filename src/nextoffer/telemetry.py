"""The telemetry port: what services report about their work, and the spans they open.

Services and stores are fed a `Telemetry` (the composition root builds it from settings) and
never name Prometheus or OpenTelemetry: the adapters in `nextoffer.observability` implement
this port. The base class records nothing, so a service built without telemetry (tools, most
tests, the CLI's one-shot commands) pays one empty method call per report.

Every label a report carries is from a small fixed set (outcomes, ranking kinds, job states,
dependency names): never a profile, tenant or offer id, which would make a metric's series
unbounded. Span attributes may carry ids: a span is one request's, not a time series.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

OUTCOMES = ("offer", "fallback", "empty")
"""What one decided scope answered: offers, the fallback offer, or nothing."""
RANKINGS = ("static", "formula", "model")
"""How the decision's criteria ranked offers (`static`: by priority)."""
DEPENDENCIES = ("database", "redis")
"""The servers a node depends on, as dependency-error labels name them."""


class Span(Protocol):
    """What a service may do with an open span (a subset of OpenTelemetry's `Span`)."""

    def set_attribute(self, key: str, value: Any) -> None: ...

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None: ...


class _NullSpan:
    """A span that records nothing; also its own context manager (no allocation per use)."""

    __slots__ = ()

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        pass

    def __enter__(self) -> _NullSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


NULL_SPAN = _NullSpan()


class SpanScope(Protocol):
    def __enter__(self) -> Span: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


class Telemetry:
    """Records nothing. Adapters override what they record; callers check `metrics` before
    computing a report's labels, and `tracing` before building span attributes."""

    metrics = False
    """Whether reports are recorded (else callers may skip computing them)."""
    tracing = False
    """Whether `span` opens real spans."""

    def span(self, name: str) -> SpanScope:
        """A child span of the current one (a request's, when a request is being served)."""
        return NULL_SPAN

    # -- decisions --------------------------------------------------------------------------

    def decided(self, outcome: str, ranking: str) -> None:
        """One scope decided: its outcome (`OUTCOMES`) and ranking kind (`RANKINGS`)."""

    def capping(self, rejected: int, lost_races: int) -> None:
        """One capped decision: offers left out by a reached cap, reservations refused because
        a concurrent decision took the last room (each one re-ran the decision)."""

    def catalog_built(self, seconds: float) -> None:
        """A sandbox's catalog was compiled, taking `seconds`."""

    def catalog_age(self, seconds: float) -> None:
        """A decision used a catalog compiled `seconds` ago."""

    # -- decision events --------------------------------------------------------------------

    def event_buffer(self, depth: int) -> None:
        """Decision events now waiting in this process's buffer."""

    def events_written(self, count: int, lag_seconds: float) -> None:
        """A batch of decision events reached the database; the oldest waited `lag_seconds`."""

    def events_refused(self, count: int) -> None:
        """Rows the database refused (or the full buffer dropped): events lost."""

    def events_synced(self, seconds: float, records: int) -> None:
        """The durable mode's spool wrote and synced `records` decisions' events in one group,
        taking `seconds`."""

    # -- batch and dependencies -------------------------------------------------------------

    def batch_job(self, state: str) -> None:
        """A batch job this process runs moved to `state` (a `JobStatus` value, or `requeued`)."""

    def dependency_error(self, dependency: str) -> None:
        """A call to a dependency (`DEPENDENCIES`) failed."""


NO_TELEMETRY = Telemetry()
