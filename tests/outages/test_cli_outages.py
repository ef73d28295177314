"""The CLI when a dependency is wrong or down: one line saying what failed (the URL with its
password masked) and what to check, a non-zero exit, no traceback. Run as real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capping.servers import CREDENTIALS, free_port

SECRET = "s3cret-pw"


def nextoffer(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")}
    base.update(NEXTOFFER_CREDENTIALS=CREDENTIALS, **env)
    return subprocess.run(
        [sys.executable, "-m", "nextoffer", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    return errors[0]


def closed_port_url() -> str:
    return f"postgresql://nextoffer:{SECRET}@127.0.0.1:{free_port()}/nextoffer"


@pytest.mark.parametrize("command", [["db", "current"], ["db", "upgrade"], ["serve"]])
def test_an_unreachable_database_is_one_line_naming_it(command: list[str]) -> None:
    url = closed_port_url()
    line = one_line_error(nextoffer(*command, NEXTOFFER_DATABASE_URL=url))
    masked = url.replace(SECRET, "***")
    assert line.startswith(f"error: cannot use the database at {masked}: "), line
    assert "Connection refused" in line
    assert "check NEXTOFFER_DATABASE_URL" in line


def test_a_database_url_that_names_no_database_is_one_line() -> None:
    line = one_line_error(
        nextoffer("db", "current", NEXTOFFER_DATABASE_URL=f"nosuchdb://u:{SECRET}@h/x")
    )
    assert line.startswith("error: NEXTOFFER_DATABASE_URL nosuchdb://u:***@h/x is not a usable")


def test_an_unreachable_redis_stops_serve_in_one_line(tmp_path: Path) -> None:
    redis_url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    line = one_line_error(
        nextoffer(
            "serve",
            "--port",
            str(free_port()),
            NEXTOFFER_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
            NEXTOFFER_CAPPING_STORE="redis",
            NEXTOFFER_REDIS_URL=redis_url,
        )
    )
    masked = redis_url.replace(SECRET, "***")
    assert line.startswith(f"error: cannot reach Redis at {masked}: "), line
    assert "check NEXTOFFER_REDIS_URL" in line


def test_a_port_in_use_suggests_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = one_line_error(
            nextoffer(
                "serve",
                "--port",
                str(port),
                NEXTOFFER_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
            )
        )
    assert line == f"error: port {port} on 127.0.0.1 is already in use; pick another with --port"
