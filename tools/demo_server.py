"""A demo server in a thread of this process: what `nextoffer serve --demo` serves, on a free
port and a SQLite file of the caller's, for the console's browser tests and screenshots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import Settings
from nextoffer.demo import load_demo, load_demo_profiles

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, which Playwright drives here (its own browser download cannot work)."""


@contextmanager
def demo_server(directory: Path, env: Mapping[str, str]) -> Iterator[tuple[str, Settings]]:
    """Serve the demo from `directory` with settings from `env`; yields (base URL, settings).

    The socket is bound before the server starts (port 0: no race for a free port)."""
    database = f"sqlite:///{directory / 'demo.db'}"
    settings = Settings.from_env({"NEXTOFFER_DATABASE_URL": database, **env})
    services = Services.build(settings)
    load_demo(services.library)
    load_demo_profiles(services.profiles)
    app = create_app(settings, services_=services, announce=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
