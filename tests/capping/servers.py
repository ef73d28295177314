"""Real `nextoffer serve` processes for multi-node tests, sharing one database (and Redis)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx

TOKEN, API_KEY = "acme-token", "acme-key"
CREDENTIALS = json.dumps(
    [{"client_id": "acme-app", "api_key": API_KEY, "token": TOKEN, "orgs": ["*"]}]
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tenant_headers(org: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "x-api-key": API_KEY,
        "x-gw-ims-org-id": org,
        "x-sandbox-name": "prod",
    }


@contextmanager
def nodes(count: int, database_url: str, **env: str) -> Iterator[list[str]]:
    """Start `count` server processes (one port each); yields their base URLs."""
    ports = [free_port() for _ in range(count)]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")}
    base_env.update(
        NEXTOFFER_DATABASE_URL=database_url,
        NEXTOFFER_CREDENTIALS=CREDENTIALS,
        NEXTOFFER_AUTO_MIGRATE="false",
        **env,
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nextoffer",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=base_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, proc in zip(bases, procs, strict=True):
            _wait(base, proc)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the server exited: {err}")
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")
