"""Training ranking models from what nextoffer already stores, and serving their versions.

Training counts, over the strategy's window, the impressions (`impressionEventType` events)
and conversions (`conversionEventType` events) of the offers its model ranked: a feedback
event names propositions and offers, the decision events say which of them the model ranked.
The new version is written in one transaction at the end, under a lease, so a killed training
leaves the previous version serving and two nodes never train one strategy at once. Every node
reads the newest versions per sandbox at most `max_age` seconds behind, as it does catalogs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from nextoffer.errors import Conflict, NotFound
from nextoffer.library.library_service import LibraryService
from nextoffer.ranking import AutoModel, StrategySettings, train_auto
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow
from nextoffer.wire.events import shown_in

LEASE_SECONDS = 60.0
"""How long a strategy's lease lasts unless renewed; training renews it every third of that
while it reads, so a killed training frees the strategy within a minute."""

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """A training outlived its lease; what it counted is discarded."""


class ModelStore(Protocol):
    def latest(self, sandbox_pk: int) -> dict[str, AutoModel]: ...
    def latest_version(self, sandbox_pk: int, strategy_id: str) -> int: ...
    def save(self, sandbox_pk: int, model: AutoModel) -> None: ...
    def acquire(self, name: str, holder: str, now: float, ttl: float) -> bool: ...
    def release(self, name: str, holder: str) -> None: ...
    def decided_by(
        self, sandbox_pk: int, strategy_id: str, since: str, until: str
    ) -> dict[str, set[str]]: ...
    def feedback(self, sandbox_pk: int, since: str, until: str) -> Iterator[Mapping[str, Any]]: ...
    def strategies(self) -> list[tuple[int, str, Mapping[str, Any]]]: ...


def count_feedback(
    decided: Mapping[str, set[str]],
    events: Iterator[Mapping[str, Any]],
    settings: StrategySettings,
) -> tuple[Counter[str], Counter[str]]:
    """(impressions, conversions) per offer: feedback naming offers the model ranked."""
    impressions: Counter[str] = Counter()
    conversions: Counter[str] = Counter()
    for event in events:
        kind = event.get("eventType")
        if kind == settings.impression_event:
            into = impressions
        elif kind == settings.conversion_event:
            into = conversions
        else:
            continue
        for shown in shown_in(event):
            ranked = decided.get(shown.proposition_id)
            if ranked:
                into.update(o for o in dict.fromkeys(shown.offer_ids) if o in ranked)
    return impressions, conversions


class ModelTraining:
    def __init__(
        self,
        library: LibraryService,
        store: ModelStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
        cache: ModelCache | None = None,
    ) -> None:
        self.library = library
        self.store = store
        self.cache = cache
        """This process's serving cache: a new version serves here at once."""
        self.clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """Who holds a lease: this host, process and services instance."""

    def _strategy(self, tenant: Tenant, strategy_id: str) -> tuple[int, StrategySettings]:
        sandbox = self.library.find_sandbox(tenant)
        snapshot = self.library.snapshot(tenant)
        found = snapshot.of_kind("ranking-strategy").get(strategy_id) if snapshot else None
        if sandbox is None or found is None:
            raise NotFound(
                f"there is no ranking strategy {strategy_id} in this sandbox",
                code="unknown-ranking-strategy",
            )
        return sandbox.pk, StrategySettings.from_doc(strategy_id, found)

    def state(self, tenant: Tenant, strategy_id: str) -> dict[str, Any]:
        """`GET /v1/ranking-strategies/{id}/model`."""
        sandbox_pk, settings = self._strategy(tenant, strategy_id)
        return describe(settings, self.store.latest(sandbox_pk).get(strategy_id))

    def train(self, tenant: Tenant, strategy_id: str) -> dict[str, Any]:
        """`POST /v1/ranking-strategies/{id}/train`: train now, answer the new state."""
        sandbox_pk, settings = self._strategy(tenant, strategy_id)
        model = self.train_one(sandbox_pk, settings)
        if model is None:
            raise Conflict(
                f"ranking strategy {strategy_id} is being trained by another process; "
                "try again when it has finished",
                code="training-in-progress",
            )
        return describe(settings, model)

    def train_one(self, sandbox_pk: int, settings: StrategySettings) -> AutoModel | None:
        """Train one strategy under its lease; None when another process holds the lease."""
        lease = f"train:{sandbox_pk}:{settings.strategy_id}"
        if not self.store.acquire(lease, self.holder, time.time(), LEASE_SECONDS):
            return None
        try:
            now = self.clock()
            since = format_utc(now - timedelta(days=settings.window_days))
            until = format_utc(now + timedelta(microseconds=1))
            decided = self.store.decided_by(sandbox_pk, settings.strategy_id, since, until)
            self._renew(lease)
            events = self._renewing(lease, self.store.feedback(sandbox_pk, since, until))
            impressions, conversions = count_feedback(decided, events, settings)
            self._renew(lease)
            version = self.store.latest_version(sandbox_pk, settings.strategy_id) + 1
            model = train_auto(
                settings.strategy_id,
                version,
                format_utc(now),
                (since, format_utc(now)),
                impressions,
                conversions,
                events=len(decided),
            )
            self.store.save(sandbox_pk, model)
            if self.cache is not None:
                self.cache.forget(sandbox_pk)
            return model
        finally:
            self.store.release(lease, self.holder)

    def _renew(self, lease: str) -> None:
        """Keep the lease; a training that lost it (it stalled past its expiry and another
        process took over) stops without writing anything."""
        if not self.store.acquire(lease, self.holder, time.time(), LEASE_SECONDS):
            raise LeaseLost(f"training lost its lease {lease} to another process")

    def _renewing(
        self, lease: str, events: Iterator[Mapping[str, Any]]
    ) -> Iterator[Mapping[str, Any]]:
        due = time.monotonic() + LEASE_SECONDS / 3
        for n, event in enumerate(events):
            if n % 1024 == 0 and time.monotonic() >= due:
                self._renew(lease)
                due = time.monotonic() + LEASE_SECONDS / 3
            yield event

    def train_all(self) -> int:
        """Train every enabled strategy of every sandbox (the periodic run); how many trained."""
        trained = 0
        for sandbox_pk, strategy_id, doc in self.store.strategies():
            settings = StrategySettings.from_doc(strategy_id, doc)
            if not settings.enabled:
                continue
            try:
                if self.train_one(sandbox_pk, settings) is not None:
                    trained += 1
            except LeaseLost as exc:  # another process took over: its version will serve
                log.warning("%s", exc)
        return trained


def describe(settings: StrategySettings, model: AutoModel | None) -> dict[str, Any]:
    """The model state as the API shows it."""
    out: dict[str, Any] = {
        "strategyId": settings.strategy_id,
        "type": settings.type,
        "status": "untrained" if model is None else "trained",
        "enabled": settings.enabled,
        "version": None,
        "trainedAt": None,
        "window": {"days": settings.window_days, "start": None, "end": None},
        "thresholds": {
            "newOfferImpressions": settings.new_impressions,
            "newOfferConversions": settings.new_conversions,
        },
        "explorationShare": settings.exploration,
        "counts": {"decisionEvents": 0, "impressions": 0, "conversions": 0},
        "serving": "random",
        "offers": [],
    }
    if model is None:
        return out
    out.update(
        version=model.version,
        trainedAt=model.trained_at,
        window={"days": settings.window_days, "start": model.window_start, "end": model.window_end},
        counts={
            "decisionEvents": model.events,
            "impressions": sum(a.impressions for a in model.arms.values()),
            "conversions": sum(a.conversions for a in model.arms.values()),
        },
        serving=(
            "random (disabled)"
            if not settings.enabled
            else "thompson-sampling"
            if model.active(settings)
            else "random (fewer than two offers past the new thresholds)"
        ),
        offers=[
            {
                "offerId": offer_id,
                "impressions": arm.impressions,
                "conversions": arm.conversions,
                "rate": arm.rate,
                "new": not model.graduated(offer_id, settings),
                "posterior": {"alpha": arm.alpha, "beta": arm.beta, "mean": arm.mean},
            }
            for offer_id, arm in sorted(model.arms.items(), key=lambda kv: -kv[1].mean)
        ],
    )
    return out


class ModelCache:
    """Each sandbox's newest model versions, read again at most every `max_age` seconds."""

    def __init__(self, store: ModelStore, *, max_age: float = 1.0) -> None:
        self.store = store
        self.max_age = max_age
        self._cache: dict[int, tuple[float, dict[str, AutoModel]]] = {}

    def get(self, sandbox_pk: int) -> Mapping[str, AutoModel]:
        now = time.monotonic()
        found = self._cache.get(sandbox_pk)
        if found is None or now - found[0] > self.max_age:
            found = (now, self.store.latest(sandbox_pk))
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[sandbox_pk] = found  # one assignment: a reader sees old or new whole
        return found[1]

    def forget(self, sandbox_pk: int) -> None:
        """Read the sandbox's models again on next use (this process trained one)."""
        self._cache.pop(sandbox_pk, None)


PERIODIC_LEASE = "train:periodic"


class PeriodicTraining:
    """Trains every enabled strategy every `interval` seconds, in one process of the cluster.

    Each process wakes up every `interval` and tries to take the cluster-wide round lease for
    one interval (it keeps it, so no other process runs a round before the interval is over);
    only the process that took it trains. A process that dies mid-round trains nothing more;
    its per-strategy leases expire and the next round trains again.
    """

    def __init__(self, training: ModelTraining, interval: float) -> None:
        self.training = training
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_round(self) -> int | None:
        """One round if this process takes the round lease: how many trained; else None."""
        store = self.training.store
        if not store.acquire(PERIODIC_LEASE, self.training.holder, time.time(), self.interval):
            return None
        return self.training.train_all()

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="model-training", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_round()
            except Exception:  # a round that fails (database away) is retried next interval
                log.exception("periodic training of ranking models failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
