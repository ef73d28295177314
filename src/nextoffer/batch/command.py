"""`nextoffer batch`: a batch run from the command line, with progress and a closing summary.

A plain function over plain arguments (the CLI only parses them), so tests and scripts call
what the command calls. Bad input ends with a one-line reason and a non-zero exit code, and
never with an output file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nextoffer.batch.batch_service import library_for
from nextoffer.batch.executors import UnknownExecutor, executor_named
from nextoffer.batch.output import OutputError, format_of
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.runner import Summary, run_batch
from nextoffer.batch.scopes import ScopeSyntaxError, parse_scope
from nextoffer.batch.sources import (
    BatchInputError,
    ParquetSource,
    ProfileSource,
    ProfileStoreLike,
    StoreSource,
    check_audience,
    open_profiles,
)
from nextoffer.decisioning.capping_gate import CappingGate
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.engine import Catalog
from nextoffer.tenants import Tenant
from nextoffer.timeutil import utcnow
from nextoffer.vocabulary import MEMBER_STATUSES

BAD_INPUT = 2
CANCELLED = 130


@dataclass(frozen=True)
class BatchArgs:
    sandbox: str
    audience: str
    scopes: list[str]
    out: Path
    profiles: Path | None = None
    executor: str = "local"
    workers: int = 1
    seed: int | None = None
    include_content: bool = False
    ray_address: str | None = None
    batch_size: int = 2048
    dry_run: bool = False
    """Decide and write the output, but count nothing toward caps."""


def run_batch_command(
    args: BatchArgs,
    decisions: DecisionService,
    store: ProfileStoreLike | None,
    tenant: Tenant,
    console: Console,
    capping: CappingGate | None = None,
) -> int:
    """Run the batch and print its summary; the exit code (0, or 2 for bad input, 130 when
    interrupted). Unknown scopes raise RuleViolation (the CLI lists each wrong scope). With the
    capping gate, total caps start from its counters and the run's proposals are added."""

    def bad(message: str) -> int:
        console.print(f"[bold red]error:[/] {message}")
        return BAD_INPUT

    try:
        format_of(args.out)
    except OutputError as exc:
        return bad(str(exc))
    catalog = decisions.catalog(tenant) or Catalog(0, {}, {}, {}, {})
    try:
        scopes = tuple(parse_scope(text, catalog) for text in args.scopes)
    except ScopeSyntaxError as exc:
        return bad(str(exc))
    library = library_for(
        decisions, tenant, scopes, lambda i, f: f"--scope {args.scopes[i]!r} ({f})"
    )
    try:
        source: ProfileSource
        if args.profiles is not None:
            source = open_profiles(args.profiles)
        elif store is not None:
            source = StoreSource(store, tenant, with_events=library.catalog.reads_events)
        else:
            return bad("this installation has no profile store: pass --profiles FILE")
        check_audience(source, args.audience)
        executor = executor_named(args.executor, workers=args.workers, ray_address=args.ray_address)
    except (BatchInputError, UnknownExecutor) as exc:
        return bad(str(exc))
    except RuntimeError as exc:  # Ray is not installed
        return bad(str(exc))
    plan = BatchPlan(
        job_id=BatchPlan.new_job_id(),
        docs=library.docs,
        revision=library.revision,
        audience=args.audience,
        scopes=scopes,
        now=utcnow(),
        seed=args.seed if args.seed is not None else BatchPlan.new_seed(),
        include_content=args.include_content,
        batch_size=args.batch_size,
        sandbox_id=library.sandbox_id,
        models=library.models,
    )
    total = audience_size(source, args.audience)
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
    ]
    started = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"deciding for {args.audience}", total=total, rate="")

            def advance(profiles: int, rows: int) -> None:
                rate = profiles / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=profiles, rate=f"{rate:,.0f} profiles/s")

            summary = run_batch(
                plan,
                source,
                executor,
                args.out,
                progress=advance,
                counter_store=capping.store if capping else None,
                dry_run=args.dry_run,
            )
    except KeyboardInterrupt:
        console.print("[bold yellow]cancelled:[/] nothing was written")
        return CANCELLED
    except (BatchInputError, OutputError) as exc:
        return bad(f"{exc}; nothing was written")
    print_summary(console, summary, library.catalog, plan, dry_run=args.dry_run)
    return 0


def audience_size(source: ProfileSource, audience: str) -> int | None:
    """The progress bar's total: the store counts the audience's members; a Parquet file knows
    its rows (members and others); a JSON Lines file is read once, so its size is unknown."""
    if isinstance(source, ParquetSource):
        return source.rows
    if isinstance(source, StoreSource):
        return source.members(audience, tuple(MEMBER_STATUSES))
    return None


def print_summary(
    console: Console, summary: Summary, catalog: Catalog, plan: BatchPlan, *, dry_run: bool = False
) -> None:
    rate = summary.profiles / summary.seconds if summary.seconds else 0.0
    console.print(
        f"[bold green]done:[/] {summary.profiles:,} profiles, {summary.rows:,} decision rows "
        f"in {summary.seconds:.1f} s ({rate:,.0f} profiles/s), seed {plan.seed}"
    )
    totals = Table(title="summary", title_justify="left")
    totals.add_column("profiles", justify="right")
    totals.add_column("decisions", justify="right")
    totals.add_column("fallbacks", justify="right")
    totals.add_column("nothing", justify="right")
    if summary.redecided:
        totals.add_column("re-decided (total caps)", justify="right")
    row = [summary.profiles, summary.decisions, summary.fallbacks, summary.empty]
    if summary.redecided:
        row.append(summary.redecided)
    totals.add_row(*(f"{v:,}" for v in row))
    console.print(totals)
    offers = Table(title="proposals per offer", title_justify="left")
    offers.add_column("offer", overflow="fold")
    offers.add_column("name", overflow="fold")
    offers.add_column("proposals", justify="right")
    for offer_id, count in summary.offers.most_common():
        offer = catalog.offers.get(offer_id)
        offers.add_row(offer_id, offer.name if offer else "", f"{count:,}")
    console.print(offers)
    print_caps(console, summary, catalog, dry_run)
    console.print(f"written to {summary.output}")


def print_caps(console: Console, summary: Summary, catalog: Catalog, dry_run: bool) -> None:
    """The capped offers: each total cap's use, and what per-profile caps counted."""
    if summary.cap_use:
        caps = Table(title="capped offers (total caps)", title_justify="left")
        for column in ("offer", "name", "cap"):
            caps.add_column(column, overflow="fold")
        for column in ("limit", "before", "this run", "left"):
            caps.add_column(column, justify="right")
        for use in summary.cap_use:
            offer = catalog.offers.get(use.offer_id)
            left = max(0, use.limit - use.before - use.proposed)
            caps.add_row(
                use.offer_id,
                offer.name if offer else "",
                use.label.removeprefix(use.offer_id),
                f"{use.limit:,}",
                f"{use.before:,}",
                f"{use.proposed:,}",
                "cap reached" if use.full else f"{left:,}",
            )
        console.print(caps)
        if summary.redecided:
            console.print(
                f"{summary.redecided:,} profiles were decided again because a total cap ran out"
            )
    if summary.profile_counts:
        console.print(f"per-profile caps: {summary.profile_counts:,} counter increments")
    if dry_run:
        console.print(
            "[bold yellow]dry run:[/] nothing was counted toward caps (the output was written)"
        )
    elif summary.cap_use or summary.profile_counts:
        console.print("counted toward caps: the proposals above are in the capping counters")
