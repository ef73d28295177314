"""The `nextoffer` command line: each command is a thin shell over a documented function."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeVar

import typer
import typer.core
from rich.console import Console

from nextoffer import __version__
from nextoffer.config import ConfigError, Settings, masked_url
from nextoffer.errors import NextofferError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nextoffer.composition import Services
    from nextoffer.jsonlines import Line
    from nextoffer.tenants import Tenant


def _flags_take_no_value(params: list[Any]) -> list[Any]:
    """Give every flag an empty metavar, so `--help` shows `--demo`, not `--demo <bool>`.

    typer 0.28+ prints a type placeholder for every option, flags (and `--help`) included; a
    flag takes no value, and an empty metavar is the one setting every typer version honours.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagCommand(typer.core.TyperCommand):
    """A command whose help shows boolean flags without a value."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_take_no_value(super().get_params(ctx))


class FlagGroup(typer.core.TyperGroup):
    """A command group whose help shows boolean flags without a value."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_take_no_value(super().get_params(ctx))


class CommandLine(typer.Typer):
    """A typer app whose groups and commands are FlagGroup and FlagCommand."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cls=FlagGroup, **kwargs)  # type: ignore[arg-type]

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", FlagCommand)
        return super().command(*args, **kwargs)


app = CommandLine(
    help="nextoffer: offer decisioning that speaks Adobe Decision Management's APIs.",
    no_args_is_help=True,
    add_completion=False,
)
library_app = CommandLine(help="Move a sandbox's Offer Library in and out.", no_args_is_help=True)
db_app = CommandLine(help="Database schema migrations.", no_args_is_help=True)
profiles_app = CommandLine(help="Load profiles into a sandbox.", no_args_is_help=True)
app.add_typer(library_app, name="library")
app.add_typer(profiles_app, name="profiles")
app.add_typer(db_app, name="db")
sandbox_app = CommandLine(
    help="Sandboxes: the API answers 404 unknown-sandbox for one that was never created.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")

err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file path or database URL (default: NEXTOFFER_DATABASE_URL, else a SQLite "
        "file in the user data directory).",
    ),
]


def database_url(db: str | None) -> str | None:
    """A `--db` value as a URL: paths become SQLite URLs."""
    if db is None:
        return None
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def load_settings(db: str | None = None, **overrides: object) -> Settings:
    env = dict(os.environ)
    if url := database_url(db):
        env["NEXTOFFER_DATABASE_URL"] = url
    try:
        return Settings.from_env(env, **overrides)
    except ConfigError as exc:
        fail(str(exc))
        raise  # pragma: no cover - fail() exits


def is_loopback(host: str) -> bool:
    """Whether `--host` binds a loopback interface only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@contextmanager
def reaching(settings: Settings) -> Iterator[None]:
    """A database or Redis that cannot be reached (or a URL that names none) as one line
    saying what failed, where (password masked) and what to check, then exit 1: no traceback."""
    import sqlalchemy.exc

    from nextoffer.store.outages import ERRORS, reason, unavailable

    db = masked_url(settings.database_url)
    try:
        yield
    except sqlalchemy.exc.ArgumentError as exc:
        fail(f"NEXTOFFER_DATABASE_URL {db} is not a usable database URL: {reason(exc)}", 1)
    except ERRORS as exc:
        outage = unavailable(exc)
        if outage is None and not isinstance(exc, sqlalchemy.exc.OperationalError):
            raise
        cause = reason(getattr(exc, "orig", None) or exc)
        if outage is not None and outage.extra.get("dependency") == "redis":
            fail(
                f"cannot reach Redis at {masked_url(settings.redis_url or '')}: {cause}; check "
                "NEXTOFFER_REDIS_URL and that the Redis server is running",
                1,
            )
        fail(
            f"cannot use the database at {db}: {cause}; check NEXTOFFER_DATABASE_URL (or --db) "
            "and that the database server is running",
            1,
        )


def check_port_free(host: str, port: int) -> None:
    """Fail with a hint when another process listens on `host:port` (uvicorn would only log
    the errno and leave)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is already in use; pick another with --port", 1)
            fail(f"cannot listen on {host}:{port}: {exc.strerror}", 1)


def report(exc: NextofferError) -> None:
    err.print(f"[bold red]error:[/] {exc.detail}")
    for e in exc.errors[:20]:
        where = e.pointer if e.pointer is not None else e.parameter
        err.print(f"  {where}: {e.message}")
    if len(exc.errors) > 20:
        err.print(f"  ... and {len(exc.errors) - 20} more")
    raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo library (and serve in open mode).")
    ] = False,
    open_mode: Annotated[
        bool, typer.Option("--open", help="Accept calls without credentials (local use only).")
    ] = False,
    open_on_public_host: Annotated[
        bool,
        typer.Option(
            "--open-on-public-host",
            help="Allow open mode on a --host other than loopback: anyone who can reach the "
            "port can read and change every tenant's data.",
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP server (Offer Library, health, OpenAPI at /openapi.json and /docs)."""
    import uvicorn

    from nextoffer.composition import Services

    settings = load_settings(db)
    if demo and not settings.credentials:
        open_mode = True
    if open_mode:
        settings = load_settings(db, open_mode=True)
    if not settings.credentials and not settings.open_mode:
        fail(
            "no credentials are configured: set NEXTOFFER_CREDENTIALS (or "
            "NEXTOFFER_CREDENTIALS_FILE), or pass --open to accept unauthenticated calls on your "
            "own machine"
        )
    from nextoffer.api.app import HTTP_PROTOCOL, header_timeout

    try:
        header_timeout()
    except ValueError as exc:
        fail(str(exc))
    if settings.open_mode and not is_loopback(host) and not open_on_public_host:
        fail(
            f"open mode accepts every caller without credentials; refusing to bind it to {host}, "
            "which is not a loopback address. Configure NEXTOFFER_CREDENTIALS, bind 127.0.0.1, "
            "or pass --open-on-public-host if you really mean it"
        )
    check_port_free(host, port)
    say = _banner(settings.log_format)
    with reaching(settings):
        services = Services.build(settings)
        for check in services.dependency_checks().values():
            check()  # a database or Redis that does not answer stops here, in one line
        if demo:
            from nextoffer.demo import DEMO_TENANT, load_demo, load_demo_profiles

            loaded = load_demo(services.library)
            state = "loaded" if loaded else "already present"
            say(
                f"demo library {state} in org [bold]{DEMO_TENANT.org}[/], sandbox "
                f"[bold]{DEMO_TENANT.sandbox}[/]"
            )
            count = load_demo_profiles(services.profiles)
            say(f"demo profiles {'loaded: ' + str(count) if count else 'already present'}")
    services.db.dispose()
    services.capping.store.close()
    os.environ["NEXTOFFER_DATABASE_URL"] = settings.database_url
    if settings.open_mode:
        os.environ["NEXTOFFER_OPEN"] = "1"
        say(
            "[bold yellow]OPEN MODE:[/] no credentials are checked. "
            "Use it on your own machine only.",
            "warning",
        )
        if not is_loopback(host):
            say(
                f"[bold red]OPEN MODE ON {host}:[/] anyone who reaches this port can read and "
                "change every tenant's data (--open-on-public-host).",
                "warning",
            )
    base = f"http://{host}:{port}"
    say(f"nextoffer {__version__} on {base}  (database: {masked_url(settings.database_url)})")
    say(f"  console: {base}/console" + (" (opens on the demo tenant)" if demo else ""))
    say(f"  API docs: {base}/docs")
    if settings.metrics:
        guard = "bearer token" if settings.metrics_token else "loopback clients only"
        say(f"  metrics: {base}/metrics ({guard})")
    if demo:
        from nextoffer.demo import DEMO_TENANT

        say(
            f"  try: curl -s '{base}/data/core/dps/offer-decisions' "
            f"-H 'x-gw-ims-org-id: {DEMO_TENANT.org}' -H 'x-sandbox-name: {DEMO_TENANT.sandbox}'"
        )
    from nextoffer.observability.logs import uvicorn_log_config
    from nextoffer.observability.prometheus import worker_metrics_dir

    log_config = uvicorn_log_config(settings.log_format, log_level)
    with worker_metrics_dir(workers if settings.metrics else 1):
        uvicorn.run(
            "nextoffer.api.app:served_app",  # no second open-mode warning from the workers
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            http=HTTP_PROTOCOL,
            access_log=settings.log_format != "json",  # JSON: nextoffer writes one per request
            **({"log_config": log_config} if log_config else {}),
        )


def _banner(log_format: str) -> Callable[..., None]:
    """How `serve` prints its start-up lines, `say(text, level="info")`: for people, or as
    JSON log records (markup dropped)."""
    if log_format != "json":
        return lambda text, level="info": err.print(text)
    import logging
    import re

    from nextoffer.observability.logs import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("nextoffer.serve")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    markup = re.compile(r"\[/?[a-z ]*\]")
    return lambda text, level="info": logger.log(
        logging.getLevelName(level.upper()), markup.sub("", text).strip()
    )


def _tenant_services(db: str | None, org: str | None, sandbox: str) -> tuple[Services, Tenant]:
    """The services of the configured database, and the tenant a command works on."""
    from nextoffer.composition import Services
    from nextoffer.tenants import Tenant

    settings = load_settings(db)
    org, sandbox = _tenant(org, sandbox, settings)
    return Services.build(settings), Tenant(org, sandbox)


def _tenant(org: str | None, sandbox: str, settings: Settings) -> tuple[str, str]:
    """The org to use: the given one, or the only org that has this sandbox."""
    if org:
        return org, sandbox
    from nextoffer.store import library_repo as repo
    from nextoffer.store.database import Database

    db = Database(settings.database_url)
    try:
        with db.read() as conn:
            orgs = sorted({s.org for s in repo.list_sandboxes(conn) if s.name == sandbox})
    finally:
        db.dispose()
    if len(orgs) == 1:
        return orgs[0], sandbox
    if not orgs:
        fail(f"no org has a sandbox named {sandbox!r} in this database")
    fail(f"several orgs have a sandbox {sandbox!r} ({', '.join(orgs)}); choose one with --org")
    raise AssertionError  # pragma: no cover


@library_app.command("export")
def library_export(
    sandbox: Annotated[str, typer.Option(help="Sandbox to export.")],
    org: Annotated[
        str | None, typer.Option(help="IMS org (default: the only one with it).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write a sandbox's whole library as JSON."""
    from nextoffer.library.portable import export_library

    services, tenant = _tenant_services(db, org, sandbox)
    data = export_library(services.library, tenant)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    count = sum(len(v) for v in data["objects"].values())
    err.print(f"exported {count} objects from {tenant.org} / {tenant.sandbox}")


@library_app.command("import")
def library_import(
    file: Annotated[Path, typer.Argument(help="A file written by `nextoffer library export`.")],
    org: Annotated[str | None, typer.Option(help="Target org (default: the file's).")] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="Target sandbox (default: the file's).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite objects whose ids already exist.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Import a library file, all or nothing, keeping ids."""
    from nextoffer.composition import Services
    from nextoffer.library.portable import import_library
    from nextoffer.tenants import Actor, Tenant

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"{file} is not a library export (expected a JSON object)")
    target = Tenant(org or str(data.get("org", "")), sandbox or str(data.get("sandbox", "")))
    if not target.org or not target.sandbox:
        fail("the file names no org or sandbox; pass --org and --sandbox")
    services = Services.build(load_settings(db))
    try:
        result = import_library(
            services.library, target, Actor("nextoffer-cli", "nextoffer-cli"), data, replace=replace
        )
    except NextofferError as exc:
        report(exc)
        return
    err.print(
        f"imported into {target.org} / {target.sandbox}: {result.created} created, "
        f"{result.replaced} replaced (revision {result.revision})"
    )


def _scopes(
    scope: list[str] | None, decision: str | None, placement: str | None, item_count: int | None
) -> list[tuple[str, str, int | None]]:
    out = []
    for text in scope or ():
        parts = _split_scope(text)
        if parts is None:
            fail(f"--scope {text!r} is not DECISION,PLACEMENT[,N]")
        out.append(parts)  # type: ignore[arg-type]
    if decision or placement:
        if not (decision and placement):
            fail("--decision and --placement go together")
        out.append((decision, placement, item_count))  # type: ignore[arg-type]
    if not out:
        fail("name a scope: --decision D --placement P, or --scope D,P[,N]")
    return out


def _split_scope(text: str) -> tuple[str, str, int | None] | None:
    parts = text.split(",")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        return None
    count = None
    if len(parts) == 3:
        if not parts[2].isdigit() or not 1 <= int(parts[2]) <= 30:
            return None
        count = int(parts[2])
    return parts[0], parts[1], count


def _identity(text: str) -> tuple[str, str]:
    namespace, sep, value = text.partition(":")
    if not sep or not namespace or not value:
        fail(f"--profile {text!r} is not NAMESPACE:ID (e.g. email:ada@example.com)")
    return namespace, value


@app.command()
def decide(
    sandbox: Annotated[str, typer.Option(help="Sandbox to decide in.")],
    decision: Annotated[str | None, typer.Option(help="Decision (offer activity) id.")] = None,
    placement: Annotated[str | None, typer.Option(help="Placement id.")] = None,
    item_count: Annotated[
        int | None, typer.Option(help="Offers to return (1-30).", min=1, max=30)
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="DECISION,PLACEMENT[,N]; repeat for several scopes.")
    ] = None,
    profile: Annotated[
        list[str] | None, typer.Option(help="An identity NAMESPACE:ID of a stored profile.")
    ] = None,
    attributes: Annotated[
        str | None, typer.Option(help="Profile attributes as JSON instead of a stored profile.")
    ] = None,
    context: Annotated[
        str | None, typer.Option(help='Context data as JSON: {"<@type>": {...}}.')
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show every candidate's fate.")
    ] = False,
    record: Annotated[
        bool, typer.Option("--record", help="Count it: write decision events (off by default).")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible tie-breaks.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API response as JSON.")
    ] = False,
    org: Annotated[
        str | None, typer.Option(help="IMS org (default: the only one with it).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Decide for a profile and print the propositions (and, with --explain, why)."""
    from nextoffer.composition import Services
    from nextoffer.engine import ScopeRequest
    from nextoffer.tenants import Tenant
    from nextoffer.wire.calls import DecideCall
    from nextoffer.wire.decisioning import InlineProfile, segments_of
    from nextoffer.wire.decisioning_responses import response_v1

    scopes = _scopes(scope, decision, placement, item_count)
    settings = load_settings(db)
    org, sandbox = _tenant(org, sandbox, settings)
    inline = None
    if attributes is not None:
        try:
            attrs = json.loads(attributes)
        except json.JSONDecodeError as exc:
            fail(f"--attributes is not JSON: {exc}")
        if not isinstance(attrs, dict):
            fail("--attributes must be a JSON object")
        inline = InlineProfile(attrs, segments_of(attrs))
    ctx: dict = {}
    if context is not None:
        try:
            ctx = json.loads(context)
        except json.JSONDecodeError as exc:
            fail(f"--context is not JSON: {exc}")
        if not isinstance(ctx, dict):
            fail("--context must be a JSON object keyed by the context data's @type")
    services = Services.build(settings)
    call = DecideCall(
        tenant=Tenant(org, sandbox),
        scopes=[ScopeRequest(a, p, n) for a, p, n in scopes],
        identities=[_identity(p) for p in profile or ()],
        inline=inline,
        context=ctx,
        dry_run=not record,
        explain=explain,
        seed=seed,
    )
    try:
        result = services.decisions.decide(call, lambda i, f: f"scope {i + 1} {f}")
    except NextofferError as exc:
        report(exc)
        return
    finally:
        services.close()  # --record: the decision events reach the database before exit
    if as_json:
        sys.stdout.write(json.dumps(response_v1(result, None), indent=2) + "\n")
        return
    _print_decisions(result, explain)


def _print_decisions(result, explain: bool) -> None:
    from rich.table import Table

    out = Console(soft_wrap=True)
    who = result.profile_id or "no stored profile (an empty one)"
    out.print(f"proposition {result.proposition_id} for {who}")
    for prop in result.propositions:
        title = (
            f"{prop.decision.name} ({prop.decision.id}) in "
            f"{prop.placement.name} ({prop.placement.id})"
        )
        table = Table(title=title, title_justify="left")
        for column in ("rank", "offer", "name", "score"):
            table.add_column(column)
        for rank, choice in enumerate(prop.options, start=1):
            score = "" if choice.score is None else f"{choice.score:g}"
            table.add_row(str(rank), choice.offer.id, choice.offer.name, score)
        if not prop.options:
            if prop.fallback is not None:
                table.add_row("fallback", prop.fallback.id, prop.fallback.name, "")
            else:
                table.add_row("-", "(nothing: no offer, and no usable fallback)", "", "")
        out.print(table)
        if explain and prop.trace is not None:
            why = Table(title="why", title_justify="left")
            why.add_column("offer", ratio=2)
            why.add_column("criterion")
            why.add_column("outcome", no_wrap=True)
            why.add_column("detail", ratio=3)
            offers = result.catalog.offers
            for c in prop.trace.candidates:
                detail = c.detail
                if c.score is not None and not detail:
                    detail = f"score {c.score:g}, rank {c.rank}"
                name = offers[c.offer_id].name if c.offer_id in offers else c.offer_id
                why.add_row(name, f"{c.criterion} (group {c.group})", str(c.reason), detail)
            if prop.trace.note:
                out.print(f"note: {prop.trace.note}")
            out.print(why)


@profiles_app.command("load")
def profiles_load(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one profile per line ('-': stdin).")],
    sandbox: Annotated[str, typer.Option(help="Sandbox to load into.")],
    org: Annotated[
        str | None, typer.Option(help="IMS org (default: the only one with the sandbox).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create or replace profiles from a JSON Lines file: checked whole (a bad line: nothing
    written), then written in short steps. A file is read twice; stdin is kept in memory."""
    from nextoffer.jsonlines import read_lines

    services, tenant = _tenant_services(db, org, sandbox)
    try:
        stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")

    try:
        with stream, _load_progress(stream) as track:
            if stream is sys.stdin.buffer:
                result = services.profiles.bulk_upsert(tenant, track(read_lines(stream)))
            else:

                def passes() -> Iterator[Line]:  # read twice (checked, then written): one bar each
                    stream.seek(0)
                    return track(read_lines(stream))

                result = services.profiles.bulk_upsert(tenant, passes)
    except NextofferError as exc:
        report(exc)
        return
    finally:
        services.db.dispose()
    err.print(
        f"loaded {result.total} profiles into {tenant.org} / {tenant.sandbox}: "
        f"{result.created} created, {result.replaced} replaced"
    )


@contextmanager
def _load_progress(stream: BinaryIO) -> Iterator[Callable[[Iterable[T]], Iterator[T]]]:
    """A progress bar over a profile file, by bytes read (its size is known; stdin's is not),
    showing the profiles read so far and an ETA. Yields a wrapper for the file's lines."""
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    try:
        total: int | None = os.fstat(stream.fileno()).st_size
        stream.tell()
    except (OSError, ValueError):  # a pipe: no size, no position
        total = None
    columns = (
        SpinnerColumn(),
        TextColumn("loading profiles"),
        BarColumn(),
        TextColumn("{task.fields[profiles]:,} profiles"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("load", total=total or None, profiles=0)

        def track(lines: Iterable[T]) -> Iterator[T]:
            count = 0
            for count, line in enumerate(lines, start=1):
                yield line
                if count % 100 == 0:
                    done = stream.tell() if total else None
                    progress.update(task, completed=done, profiles=count)
            progress.update(task, completed=total, profiles=count)

        yield track


@app.command()
def batch(
    sandbox: Annotated[str, typer.Option(help="Sandbox whose library decides.")],
    audience: Annotated[str, typer.Option(help="Audience (segment) id to decide for.")],
    scope: Annotated[
        list[str],
        typer.Option(help="DECISION:PLACEMENT[:N] (or D,P[,N]); repeat for several scopes."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .parquet or .jsonl.")],
    profiles: Annotated[
        Path | None,
        typer.Option(help="Read profiles from this .parquet or .jsonl file, not the store."),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes or Ray actors (default: one per CPU).", min=0),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for reproducible tie-breaks.", min=0, max=2**63 - 1)
    ] = None,
    include_content: Annotated[
        bool, typer.Option("--include-content", help="Write each offer's content.")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: Ray on this machine).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Profiles per batch.", min=1)] = 2048,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Decide and write the output, but count nothing toward caps."
        ),
    ] = False,
    org: Annotated[
        str | None, typer.Option(help="IMS org (default: the only one with it).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Decide for every profile of an audience and write one row per profile and scope."""
    from nextoffer.batch.command import BatchArgs, run_batch_command

    args = BatchArgs(
        sandbox=sandbox,
        audience=audience,
        scopes=list(scope),
        out=out,
        profiles=profiles,
        executor=executor,
        workers=workers if workers is not None else (os.cpu_count() or 1),
        seed=seed,
        include_content=include_content,
        ray_address=ray_address,
        batch_size=batch_size,
        dry_run=dry_run,
    )

    services, tenant = _tenant_services(db, org, sandbox)
    store = services.profiles
    try:
        code = run_batch_command(args, services.decisions, store, tenant, err, services.capping)
    except NextofferError as exc:
        report(exc)
        return
    finally:
        services.db.dispose()
    if code:
        raise typer.Exit(code)


@sandbox_app.command("create")
def sandbox_create(
    org: Annotated[str, typer.Argument(help="IMS org id (x-gw-ims-org-id).")],
    name: Annotated[str, typer.Argument(help="Sandbox name (x-sandbox-name).")],
    db: DbOption = None,
) -> None:
    """Create a sandbox, so that calls naming it are answered (nothing happens if it exists)."""
    from nextoffer.composition import Services
    from nextoffer.tenants import ORG_ID, ORG_ID_RULE, SANDBOX_NAME, SANDBOX_NAME_RULE, Tenant

    if not ORG_ID.fullmatch(org):  # the rules of the API's tenant headers
        fail(ORG_ID_RULE)
    if not SANDBOX_NAME.fullmatch(name):
        fail(SANDBOX_NAME_RULE)
    tenant = Tenant(org, name)
    services = Services.build(load_settings(db))
    try:
        sandbox, created = services.library.create_sandbox(tenant)
    finally:
        services.db.dispose()
    state = "created" if created else "already exists"
    err.print(f"sandbox {sandbox.name} of {sandbox.org} {state} (id {sandbox.sandbox_id})")


@sandbox_app.command("list")
def sandbox_list(
    org: Annotated[str | None, typer.Option(help="Only this org's sandboxes.")] = None,
    db: DbOption = None,
) -> None:
    """Print every sandbox as ORG<tab>NAME."""
    from nextoffer.composition import Services
    from nextoffer.store import library_repo as repo

    services = Services.build(load_settings(db))  # migrates a new database, as serve does
    try:
        with services.db.read() as conn:
            rows = [s for s in repo.list_sandboxes(conn) if org is None or s.org == org]
    finally:
        services.db.dispose()
    for sandbox in rows:
        print(f"{sandbox.org}\t{sandbox.name}")


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply schema migrations (serve does this on start unless NEXTOFFER_AUTO_MIGRATE=0)."""
    from nextoffer.store.database import Database

    settings = load_settings(db)
    with reaching(settings):
        database = Database(settings.database_url)
        database.upgrade(revision)
        err.print(f"database at revision {database.current_revision()}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base` drops every table).")],
    db: DbOption = None,
) -> None:
    """Roll schema migrations back to a revision."""
    from nextoffer.store.database import Database

    settings = load_settings(db)
    with reaching(settings):
        database = Database(settings.database_url)
        database.downgrade(revision)
        err.print(f"database at revision {database.current_revision()}")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision of the database and the newest one this version knows."""
    from nextoffer.store.database import Database

    settings = load_settings(db)
    with reaching(settings):
        database = Database(settings.database_url)
        print(f"current: {database.current_revision()}  head: {database.head_revision()}")


def main() -> None:
    app()
