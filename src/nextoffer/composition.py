"""The composition root: every service of a process, built once from settings and wired to
the stores that implement its ports. HTTP (`api.app`), the CLI and tests all start here; no
service and no route knows which database or counter store it runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nextoffer.batch.batch_service import BatchService
from nextoffer.config import ConfigError, Settings, spool_directory
from nextoffer.decisioning.capping_gate import CappingGate
from nextoffer.decisioning.catalogs import CatalogCache
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.decisioning.feedback import FeedbackService
from nextoffer.decisioning.model_training import ModelCache, ModelTraining, PeriodicTraining
from nextoffer.decisioning.simulation import Simulator
from nextoffer.edge.datastreams import DatastreamService
from nextoffer.edge.edge_service import EdgeService
from nextoffer.edge.quotas import EdgeQuotas, default_limits
from nextoffer.library.library_service import LibraryService
from nextoffer.observability import Observer, build_telemetry
from nextoffer.ratelimit import Limiter, MemoryLimiter
from nextoffer.store.batch_jobs import JobStore
from nextoffer.store.capping_stores import counter_store
from nextoffer.store.database import Database
from nextoffer.store.datastreams import DatastreamResolver, SqlDatastreams
from nextoffer.store.decision_event_spool import Spool
from nextoffer.store.decision_events import DecisionEventLog
from nextoffer.store.library_repo import SqlLibraryStore
from nextoffer.store.outages import ERRORS as DEPENDENCY_ERRORS
from nextoffer.store.outages import unavailable as dependency_outage
from nextoffer.store.profile_loads import ProfileLoads
from nextoffer.store.profiles import ProfileStore
from nextoffer.store.ranking_models import RankingModelStore
from nextoffer.store.snapshots import SnapshotCache

__all__ = ["DEPENDENCY_ERRORS", "Services", "dependency_outage"]


@dataclass
class Services:
    """Everything a request handler may use, built once per process."""

    settings: Settings
    db: Database
    library: LibraryService
    decisions: DecisionService
    datastreams: DatastreamResolver
    datastream_admin: DatastreamService
    profiles: ProfileStore
    profile_loads: ProfileLoads
    """Large bulk loads, in worker processes (`store/profile_loads.py`)."""
    decision_events: DecisionEventLog
    feedback: FeedbackService
    edge: EdgeService
    edge_quotas: EdgeQuotas
    capping: CappingGate
    batch: BatchService
    simulations: Simulator
    """Explained dry runs of every live decision for one profile (the console's simulator)."""
    training: ModelTraining
    """Ranking models: their state, training now (`/v1/ranking-strategies/{id}/...`)."""
    periodic_training: PeriodicTraining
    telemetry: Observer
    """Metrics and spans of every service of the process (`NEXTOFFER_METRICS`, `OTEL_*`)."""

    @classmethod
    def build(
        cls, settings: Settings, db: Database | None = None, telemetry: Observer | None = None
    ) -> Services:
        telemetry = telemetry or build_telemetry(settings)
        db = db or Database(settings.database_url, write_wait=settings.write_wait_seconds)
        if settings.auto_migrate:
            db.upgrade()
        snapshots = SnapshotCache(db, settings.snapshot_cache_sandboxes)
        library = LibraryService(SqlLibraryStore(db), settings.limits, snapshots)
        catalogs = CatalogCache(
            snapshots, max_age=settings.catalog_max_age_ms / 1000, telemetry=telemetry
        )
        resolver = DatastreamResolver(db)
        profiles = ProfileStore(
            db,
            event_window_days=settings.profile_event_window_days,
            max_events=settings.profile_max_events,
            event_budget_bytes=settings.profile_event_budget_bytes,
        )
        events = DecisionEventLog(
            db,
            writer=settings.decision_event_writer,
            flush_interval=settings.decision_event_flush_ms / 1000,
            batch_size=settings.decision_event_batch_size,
            spool=durable_spool(settings, telemetry),
            telemetry=telemetry,
        )
        capping = CappingGate(counter_store(settings, db), telemetry=telemetry)
        model_store = RankingModelStore(db)
        models = ModelCache(model_store, max_age=settings.model_max_age_ms / 1000)
        training = ModelTraining(library, model_store, cache=models)
        decisions = DecisionService(
            library,
            catalogs,
            profiles=profiles,
            events=events,
            models=models,
            capping=capping,
            telemetry=telemetry,
        )
        feedback = FeedbackService(events, profiles, decisions, capping)
        jobs = JobStore(db)
        if telemetry.prometheus is not None:
            telemetry.prometheus.watch_batch_jobs(jobs.count_by_state)
        return cls(
            settings=settings,
            db=db,
            library=library,
            decisions=decisions,
            datastreams=resolver,
            datastream_admin=DatastreamService(library, SqlDatastreams(db, resolver)),
            profiles=profiles,
            profile_loads=ProfileLoads(profiles),
            decision_events=events,
            feedback=feedback,
            edge=EdgeService(decisions, feedback),
            edge_quotas=EdgeQuotas(edge_limiter(settings), default_limits(settings), profiles),
            capping=capping,
            batch=BatchService(
                jobs,
                decisions,
                settings,
                profiles=profiles,
                capping=capping,
                telemetry=telemetry,
            ),
            simulations=Simulator(decisions),
            training=training,
            periodic_training=PeriodicTraining(training, settings.model_train_interval_s),
            telemetry=telemetry,
        )

    def dependency_checks(self) -> dict[str, Callable[[], object]]:
        """Each dependency a decision needs, named as in `dependency-unavailable` problems, with
        a check that raises when it does not answer (the database's returns its revision)."""
        checks: dict[str, Callable[[], object]] = {"database": self.db.current_revision}
        ping = getattr(self.capping.store, "ping", None)
        if ping is not None:  # a remote counter store (Redis)
            checks["redis"] = ping
        return checks

    def close(self) -> None:
        """Write buffered decision events; the services stay usable (a server shuts down, or
        a test client closes, and the next one records again)."""
        self.decision_events.close()
        self.profile_loads.close()
        self.telemetry.close()


def durable_spool(settings: Settings, telemetry: Observer) -> Spool | None:
    """The durable mode's spool (`NEXTOFFER_DECISION_EVENTS=durable`), else None."""
    if settings.decision_events != "durable":
        return None
    return Spool(spool_directory(settings), telemetry)


def edge_limiter(settings: Settings) -> Limiter:
    """The Edge's rate-limit buckets: in Redis (shared) when configured, else in memory."""
    store = settings.edge_limit_store or ("redis" if settings.redis_url else "memory")
    if store == "redis":
        from nextoffer.store.ratelimit_redis import RedisLimiter

        if not settings.redis_url:
            raise ConfigError("NEXTOFFER_EDGE_LIMIT_STORE=redis needs NEXTOFFER_REDIS_URL")
        return RedisLimiter(settings.redis_url, settings.edge_limit_key_prefix)
    return MemoryLimiter()
