"""Shared benchmark machinery: a real server process on one core, a load generator on another.

Every figure is measured side by side with a baseline in the same run (DESIGN.md §4), because
the machines are noisy: a ratio survives a slow neighbour, an absolute figure does not.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

TOKEN, API_KEY = "bench-token", "bench-key"
CREDENTIALS = json.dumps(
    [
        {
            "client_id": "bench",
            "api_key": API_KEY,
            "token": TOKEN,
            "user": "bench@nextoffer",
            "orgs": ["*"],
        }
    ]
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu: int) -> list[str]:
    """`taskset -c cpu` when available, so server and load generator do not share a core."""
    return (
        ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    )


class Server:
    """`uvicorn nextoffer.api.app:app_from_env` with one worker, pinned to core 0."""

    def __init__(self, database_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")},
            "NEXTOFFER_DATABASE_URL": database_url,
            "NEXTOFFER_CREDENTIALS": CREDENTIALS,
            **(extra_env or {}),
        }
        cmd = [
            *pin(0),
            sys.executable,
            "-m",
            "uvicorn",
            "nextoffer.api.app:app_from_env",
            "--factory",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.proc = subprocess.Popen(cmd, env=env)
        deadline = time.monotonic() + 60  # a busy shared machine starts it slowly
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()  # never left running behind a benchmark that gave up on it
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def headers(org: str, sandbox: str = "prod") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "x-api-key": API_KEY,
        "x-gw-ims-org-id": org,
        "x-sandbox-name": sandbox,
    }


def seed(database_url: str, libraries: Mapping[str, Any], **settings: Any) -> None:
    """A database with each org's library imported into its `prod` sandbox (open mode, other
    `Settings` fields as given), closed again before the servers under test open it."""
    from nextoffer.composition import Services
    from nextoffer.config import Settings
    from nextoffer.library.portable import import_library
    from nextoffer.tenants import Actor, Tenant

    services = Services.build(Settings(database_url=database_url, open_mode=True, **settings))
    for org, library in libraries.items():
        import_library(services.library, Tenant(org, "prod"), Actor("bench", "bench"), library)
    services.close()
    services.db.dispose()


def raw_headers(values: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as an ASGI scope holds them."""
    return [(k.lower().encode(), v.encode()) for k, v in values.items()]


async def asgi_post(
    app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> int:
    """One POST straight into an ASGI app, as uvicorn would hand it over (no socket, no HTTP
    client: what is measured is the app); the response's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def asgi_caller(
    app: Any, path: str, headers: Mapping[str, str], expect: int, query: bytes = b""
) -> Callable[[bytes], Awaitable[None]]:
    """`asgi_post` of a body (with its Content-Length) that must answer `expect`."""
    raw = raw_headers(headers)

    async def call(body: bytes) -> None:
        length = (b"content-length", str(len(body)).encode())
        status = await asgi_post(app, path, body, [*raw, length], query)
        assert status == expect, status

    return call


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def row(self, baseline: Result | None = None) -> str:
        ratio = f"{self.rps / baseline.rps:.2f}" if baseline else "1.00"
        return (
            f"| {self.name} | {self.rps:,.0f} | {ratio} | {self.pct(50):.2f} "
            f"| {self.pct(99):.2f} | {self.errors} |"
        )


async def load(
    name: str,
    base: str,
    make: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    seconds: float = 8.0,
    concurrency: int = 8,
    expect: int = 200,
) -> Result:
    """Closed-loop load: `concurrency` clients each send the next request when one returns."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                started = time.perf_counter()
                r = await make(client, counter)
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != expect:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Result(name, len(latencies), elapsed, latencies, errors)


async def open_loop(
    name: str,
    base: str,
    make: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    rate: float,
    seconds: float = 8.0,
    expect: int = 200,
) -> Result:
    """Open-loop load at a fixed rate, so latency is measured without coordinated omission."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        tasks = []
        began = time.perf_counter()
        n = int(rate * seconds)

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            r = await make(client, i)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            if r.status_code != expect:
                errors += 1

        for i in range(n):
            scheduled = began + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return Result(name, len(latencies), elapsed, latencies, errors)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.python_implementation()} "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def table_header() -> str:
    return (
        "| endpoint | req/s | vs no-op | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|"
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
