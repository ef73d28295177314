"""Real `nextoffer serve` processes for multi-node tests, sharing one database (and Redis)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

from nextoffer.store.database import Database

TOKEN, API_KEY = "acme-token", "acme-key"
CREDENTIALS = json.dumps(
    [{"client_id": "acme-app", "api_key": API_KEY, "token": TOKEN, "orgs": ["*"]}]
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tenant_with_library(db: Database) -> str:
    """A new org whose `prod` sandbox in `db` holds the capping library (no caps): what the
    nodes decide for."""
    from nextoffer.composition import Services
    from nextoffer.config import Settings
    from nextoffer.library.portable import import_library
    from nextoffer.tenants import Actor, Tenant
    from tests.capping.library import portable
    from tests.conftest import new_org

    org = new_org()
    services = Services.build(Settings(database_url=str(db.url), auto_migrate=False), db=db)
    import_library(services.library, Tenant(org, "prod"), Actor("t", "t"), portable([]))
    return org


def decide_as(base: str, org: str, email: str) -> None:
    """One decision of `tenant_with_library`'s decision for the profile `email`, answered 200."""
    from tests.capping.library import decision_body

    reply = httpx.post(
        f"{base}/data/core/ods/decisions",
        json=decision_body(email=email),
        headers=tenant_headers(org),
    )
    assert reply.status_code == 200, reply.text


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
    logs = Path(tempfile.mkdtemp(prefix="nextoffer-nodes-"))
    procs = []
    for port in ports:
        # each node's log goes to a file: a pipe nobody reads can fill up and block the node,
        # and a failing test prints the logs so a server error shows its traceback
        with open(logs / f"node-{port}.log", "wb") as log:
            procs.append(
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
                    stderr=log,
                )
            )
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    failed = True
    try:
        for base, port, proc in zip(bases, ports, procs, strict=True):
            _wait(base, proc, logs / f"node-{port}.log")
        yield bases
        failed = False
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for port in ports:
            log_file = logs / f"node-{port}.log"
            if failed:
                print(f"--- log of the node on port {port} ---\n{log_file.read_text()}")
            log_file.unlink(missing_ok=True)
        logs.rmdir()


def _wait(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")
