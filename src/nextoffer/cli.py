"""The `nextoffer` command line: each command is a thin shell over a documented function."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nextoffer import __version__
from nextoffer.config import ConfigError, Settings
from nextoffer.errors import NextofferError

app = typer.Typer(
    help="nextoffer: offer decisioning that speaks Adobe Decision Management's APIs.",
    no_args_is_help=True,
    add_completion=False,
)
library_app = typer.Typer(help="Move a sandbox's Offer Library in and out.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(library_app, name="library")
app.add_typer(db_app, name="db")

err = Console(stderr=True, soft_wrap=True)

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


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


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
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP server (Offer Library, health, OpenAPI at /openapi.json and /docs)."""
    import uvicorn

    from nextoffer.api.app import Services

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
    services = Services.build(settings)
    if demo:
        from nextoffer.demo import DEMO_TENANT, load_demo

        loaded = load_demo(services.library)
        state = "loaded" if loaded else "already present"
        err.print(
            f"demo library {state} in org [bold]{DEMO_TENANT.org}[/], sandbox "
            f"[bold]{DEMO_TENANT.sandbox}[/]"
        )
    services.db.dispose()
    os.environ["NEXTOFFER_DATABASE_URL"] = settings.database_url
    if settings.open_mode:
        os.environ["NEXTOFFER_OPEN"] = "1"
        err.print(
            "[bold yellow]OPEN MODE:[/] no credentials are checked. "
            "Use it on your own machine only."
        )
    base = f"http://{host}:{port}"
    err.print(f"nextoffer {__version__} on {base}  (database: {settings.database_url})")
    err.print(f"  API docs: {base}/docs")
    if demo:
        from nextoffer.demo import DEMO_TENANT

        err.print(
            f"  try: curl -s '{base}/data/core/dps/offer-decisions' "
            f"-H 'x-gw-ims-org-id: {DEMO_TENANT.org}' -H 'x-sandbox-name: {DEMO_TENANT.sandbox}'"
        )
    uvicorn.run(
        "nextoffer.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


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
    from nextoffer.api.app import Services
    from nextoffer.library.portable import export_library
    from nextoffer.tenants import Tenant

    settings = load_settings(db)
    org, sandbox = _tenant(org, sandbox, settings)
    services = Services.build(settings)
    data = export_library(services.library, Tenant(org, sandbox))
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    count = sum(len(v) for v in data["objects"].values())
    err.print(f"exported {count} objects from {org} / {sandbox}")


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
    from nextoffer.api.app import Services
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


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply schema migrations (serve does this on start unless NEXTOFFER_AUTO_MIGRATE=0)."""
    from nextoffer.store.database import Database

    database = Database(load_settings(db).database_url)
    database.upgrade(revision)
    err.print(f"database at revision {database.current_revision()}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base` drops every table).")],
    db: DbOption = None,
) -> None:
    """Roll schema migrations back to a revision."""
    from nextoffer.store.database import Database

    database = Database(load_settings(db).database_url)
    database.downgrade(revision)
    err.print(f"database at revision {database.current_revision()}")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision of the database and the newest one this version knows."""
    from nextoffer.store.database import Database

    database = Database(load_settings(db).database_url)
    print(f"current: {database.current_revision()}  head: {database.head_revision()}")


def main() -> None:
    app()
