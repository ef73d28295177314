"""Settings, read once from the environment (or passed in by tests and the CLI).

Every variable is documented in README.md ("Configuration"). Limits default to at least ten times
Adobe's guardrails (DESIGN.md §3), except where an issue fixes a number (capping rules per offer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

ENV_PREFIX = "NEXTOFFER_"
CAPPING_STORES = ("sql", "redis", "memory")
DECISION_EVENT_WRITERS = ("process", "thread")
DECISION_EVENT_MODES = ("buffered", "durable")
BATCH_EXECUTORS = ("local", "ray")
EDGE_LIMIT_STORES = ("memory", "redis")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable library limits (`NEXTOFFER_LIMIT_<NAME>`); a breach is a 422 naming it."""

    offers_per_sandbox: int = 100_000
    placements_per_sandbox: int = 10_000
    collections_per_sandbox: int = 100_000
    tags_per_sandbox: int = 10_000
    decisions_per_sandbox: int = 100_000
    live_decisions_per_sandbox: int = 10_000
    rules_and_formulas_per_sandbox: int = 100_000
    ranking_strategies_per_sandbox: int = 1_000
    offers_per_collection: int = 5_000
    tags_per_object: int = 200
    placements_per_decision: int = 300
    collections_per_decision: int = 300
    criteria_per_decision: int = 300
    capping_rules_per_offer: int = 10
    characteristics_per_offer: int = 300
    object_bytes: int = 3_000_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        values = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"{ENV_PREFIX}LIMIT_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _positive_int(f"{ENV_PREFIX}LIMIT_{f.name.upper()}", raw)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Credential:
    """One API client: `Authorization: Bearer <token>` plus `x-api-key: <api_key>`.

    `orgs` maps an IMS org id to the sandboxes it may use; `["*"]` grants every sandbox.
    """

    client_id: str
    api_key: str
    token_sha256: str
    user: str
    orgs: Mapping[str, tuple[str, ...]]

    def grants(self, org: str, sandbox: str) -> bool | None:
        """True if granted; False if the org is but not the sandbox; None if the org is not."""
        sandboxes = self.orgs.get(org)
        if sandboxes is None:
            sandboxes = self.orgs.get("*")
            if sandboxes is None:
                return None
        return "*" in sandboxes or sandbox in sandboxes


def default_batch_output_dir() -> str:
    return str(Path(platformdirs.user_data_dir("nextoffer")) / "batch")


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("nextoffer"))
    return f"sqlite:///{data_dir / 'nextoffer.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    credentials: tuple[Credential, ...] = ()
    open_mode: bool = False
    auto_migrate: bool = True
    max_body_bytes: int = 4 * 1024 * 1024
    max_bulk_bytes: int = 1024 * 1024 * 1024
    """Body limit of a bulk profile load (read line by line, so memory stays small)."""
    snapshot_cache_sandboxes: int = 64
    catalog_max_age_ms: int = 100
    """How long a decision may use a catalog before checking for other nodes' library writes."""
    model_train_interval_s: int = 3600
    """How often ranking models train by themselves (one process of the cluster); 0: never."""
    model_max_age_ms: int = 1000
    """How long a decision may use a trained model before checking for a newer version."""
    profile_event_window_days: int = 30
    """Experience events older than this are dropped from profiles (and never read)."""
    profile_max_events: int = 1000
    """The most experience events a profile keeps (the newest)."""
    profile_event_budget_bytes: int = 1024 * 1024
    """The most bytes of experience events (compact JSON) a profile keeps (the newest)."""
    decision_event_flush_ms: int = 200
    """How often buffered decision events are written to the database."""
    decision_event_batch_size: int = 500
    """Buffered decision events that trigger a write before the interval is up."""
    decision_event_writer: str = "process"
    """Who writes decision events: a child process at low CPU priority, or a server thread."""
    decision_events: str = "buffered"
    """`buffered`: events wait in memory up to the flush interval (a `kill -9` loses them);
    `durable`: each is fsync'ed to a local spool before its decision is answered."""
    decision_event_spool_dir: str | None = None
    """Where the durable mode's spool lives; by default a folder per database in the user
    data directory (`spool_directory`)."""
    capping_store: str = "sql"
    """Where capping counters live: `sql` (the database), `redis` or `memory` (one process)."""
    capping_key_prefix: str = "nextoffer:capping:"
    """Prefix of the Redis keys of capping counters (several deployments may share a Redis)."""
    limits: Limits = field(default_factory=Limits)
    batch_output_dir: str = field(default_factory=default_batch_output_dir)
    """Where Batch Decisioning API jobs write `<org>/<sandbox>/<dataSetId>/<job id>.parquet`."""
    batch_executor: str = "local"
    batch_workers: int = 1
    """Worker processes (or Ray actors) per job run by the server."""
    batch_ray_address: str | None = None
    batch_run_jobs: bool = True
    """Whether this node runs queued jobs (every node accepts and reports them)."""
    batch_lease_seconds: int = 60
    """A running job whose runner stays silent this long is queued again."""
    write_wait_seconds: float = 2.0
    """The longest a write waits for the database's writer (SQLite's writer lock, PostgreSQL's
    row locks) or for a free write worker; past it the request is a `503 busy`."""
    batch_concurrent_jobs: int = 2
    """Jobs one node runs at once (each in a thread of its own, with its own workers)."""
    batch_jobs_per_tenant: int = 1
    """Jobs of one tenant (org and sandbox) running at once, over every node."""
    batch_queue_per_tenant: int = 20
    """Jobs of one tenant queued or running; one more is a 429."""
    batch_output_retention_hours: int = 168
    """Outputs of finished jobs older than this are deleted; 0 keeps them forever."""
    edge_limit_store: str | None = None
    """Where Edge rate-limit buckets live: `memory` (each node its own) or `redis` (shared by
    every node); by default `redis` when `redis_url` is set, else `memory`."""
    edge_limit_key_prefix: str = "nextoffer:limits:"
    edge_requests_per_second: int = 200
    """Anonymous Edge requests per second per datastream (also the burst); 0: no limit."""
    edge_new_profiles_per_minute: int = 600
    """Profiles anonymous Edge calls may create per minute per datastream; 0: no limit."""
    edge_events_per_profile_per_minute: int = 120
    """Events anonymous Edge calls may send per minute per identity; 0: no limit."""
    metrics: bool = True
    """Whether Prometheus metrics are recorded and served at `/metrics`."""
    metrics_token: str | None = None
    """Bearer token a scraper of `/metrics` must send; without one, loopback clients only."""
    log_format: str = "text"
    """`text` for people, `json` for a log pipeline (one object a line, a line per request)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, parse in _PARSERS.items():
            var = ENV_PREFIX + _VARIABLES.get(name, name.upper())
            raw = env.get(var)
            if raw is not None and (value := parse(var, raw)) is not None:
                values[name] = value
        creds = load_credentials(env)
        if creds:
            values["credentials"] = creds
        if values.get("capping_store") == "redis" and not values.get("redis_url"):
            raise ConfigError(f"{ENV_PREFIX}CAPPING_STORE=redis needs {ENV_PREFIX}REDIS_URL")
        if values.get("decision_events") == "durable" and os.name != "posix":
            raise ConfigError(f"{ENV_PREFIX}DECISION_EVENTS=durable needs a POSIX system (flock)")
        if values.get("edge_limit_store") == "redis" and not values.get("redis_url"):
            raise ConfigError(f"{ENV_PREFIX}EDGE_LIMIT_STORE=redis needs {ENV_PREFIX}REDIS_URL")
        values["limits"] = Limits.from_env(env)
        values.update(overrides)
        if values.get("open_mode") and values.get("credentials"):
            raise ConfigError(
                f"open mode ({ENV_PREFIX}OPEN=1 or --open) and configured credentials "
                f"({ENV_PREFIX}CREDENTIALS or {ENV_PREFIX}CREDENTIALS_FILE) are both set: open "
                "mode never overrides credentials; unset one of them"
            )
        return cls(**values)  # type: ignore[arg-type]


def spool_directory(settings: Settings) -> Path:
    """The durable mode's spool: the configured folder, else one per database (named by a
    hash of its URL without the password) so that two deployments on one host never replay
    each other's events."""
    if settings.decision_event_spool_dir:
        return Path(settings.decision_event_spool_dir)
    digest = hashlib.sha256(masked_url(settings.database_url).encode()).hexdigest()[:16]
    return Path(platformdirs.user_data_dir("nextoffer")) / "decision-event-spool" / digest


def masked_url(url: str) -> str:
    """A database or Redis URL fit to print: its password replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the variable."""


def choice(var: str, raw: str, choices: tuple[str, ...]) -> str:
    """`raw` (any case, spaces around) as one of `choices`; else a ConfigError naming `var`."""
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{var} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def load_credentials(env: Mapping[str, str]) -> tuple[Credential, ...]:
    """Read credentials from `NEXTOFFER_CREDENTIALS` (JSON) or `NEXTOFFER_CREDENTIALS_FILE`."""
    raw = env.get(f"{ENV_PREFIX}CREDENTIALS")
    source = f"{ENV_PREFIX}CREDENTIALS"
    if raw is None and (path := env.get(f"{ENV_PREFIX}CREDENTIALS_FILE")):
        source = path
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {ENV_PREFIX}CREDENTIALS_FILE {path}: {exc}") from None
    if raw is None:
        return ()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    return parse_credentials(data, source)


def parse_credentials(data: object, source: str = "credentials") -> tuple[Credential, ...]:
    if not isinstance(data, list):
        raise ConfigError(f"{source} must be a JSON array of credential objects")
    out = []
    for i, item in enumerate(data):
        where = f"{source}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be an object")
        try:
            api_key = str(item["api_key"])
            if "token_sha256" in item:
                digest = str(item["token_sha256"]).lower()
            else:
                digest = hashlib.sha256(str(item["token"]).encode()).hexdigest()
            orgs_raw = item["orgs"]
        except KeyError as exc:
            raise ConfigError(f"{where} lacks {exc.args[0]!r}") from None
        if isinstance(orgs_raw, list):
            orgs = {str(o): ("*",) for o in orgs_raw}
        elif isinstance(orgs_raw, dict):
            orgs = {}
            for org, sandboxes in orgs_raw.items():
                if sandboxes == "*":
                    orgs[str(org)] = ("*",)
                elif isinstance(sandboxes, list):
                    orgs[str(org)] = tuple(str(s) for s in sandboxes)
                else:
                    raise ConfigError(f"{where}.orgs[{org!r}] must be '*' or a list of sandboxes")
        else:
            raise ConfigError(f"{where}.orgs must be a list of orgs or an object org -> sandboxes")
        out.append(
            Credential(
                client_id=str(item.get("client_id", api_key)),
                api_key=api_key,
                token_sha256=digest,
                user=str(item.get("user", item.get("client_id", api_key))),
                orgs=orgs,
            )
        )
    return tuple(out)


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer >= 0, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, not {raw!r}")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, not {raw!r}") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} must be a positive number, not {raw!r}")
    return value


def _text(name: str, raw: str) -> str | None:
    return raw or None  # empty: not set


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], str | None]:
    return lambda name, raw: choice(name, raw, choices) if raw.strip() else None


_PARSERS: dict[str, Callable[[str, str], object]] = {
    "database_url": _text,
    "redis_url": _text,
    "open_mode": _bool,
    "auto_migrate": _bool,
    "max_body_bytes": _positive_int,
    "max_bulk_bytes": _positive_int,
    "snapshot_cache_sandboxes": _positive_int,
    "catalog_max_age_ms": _non_negative_int,
    "model_train_interval_s": _non_negative_int,
    "model_max_age_ms": _non_negative_int,
    "profile_event_window_days": _positive_int,
    "profile_max_events": _positive_int,
    "profile_event_budget_bytes": _positive_int,
    "decision_event_flush_ms": _positive_int,
    "decision_event_batch_size": _positive_int,
    "decision_event_writer": _one_of(DECISION_EVENT_WRITERS),
    "decision_events": _one_of(DECISION_EVENT_MODES),
    "decision_event_spool_dir": _text,
    "capping_store": _one_of(CAPPING_STORES),
    "capping_key_prefix": _text,
    "batch_output_dir": _text,
    "batch_executor": _one_of(BATCH_EXECUTORS),
    "batch_workers": _non_negative_int,
    "batch_ray_address": _text,
    "batch_run_jobs": _bool,
    "batch_lease_seconds": _positive_int,
    "write_wait_seconds": _positive_float,
    "batch_concurrent_jobs": _positive_int,
    "batch_jobs_per_tenant": _positive_int,
    "batch_queue_per_tenant": _positive_int,
    "batch_output_retention_hours": _non_negative_int,
    "edge_limit_store": _one_of(EDGE_LIMIT_STORES),
    "edge_limit_key_prefix": _text,
    "edge_requests_per_second": _non_negative_int,
    "edge_new_profiles_per_minute": _non_negative_int,
    "edge_events_per_profile_per_minute": _non_negative_int,
    "metrics": _bool,
    "metrics_token": _text,
    "log_format": _one_of(LOG_FORMATS),
}
"""Each setting read from `NEXTOFFER_<NAME>` and how (a None result leaves the default)."""
_VARIABLES = {"open_mode": "OPEN"}
"""Settings whose variable is not their name in upper case."""
