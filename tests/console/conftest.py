"""The browser suite's fixtures: one real uvicorn server per mode and xdist worker, Debian's
Chromium driven by Playwright, and a page that records every console error.

Servers run in a thread of the test process on a socket bound to a free port, on a SQLite file
of their own with the demo library and profiles loaded (`tools/demo_server.py`, which the
screenshot script uses too).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserType,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    sync_playwright,
)
from tools.demo_server import CHROMIUM, demo_server

from nextoffer.demo import DEMO_TENANT

ASSETS = Path(__file__).resolve().parent / "assets"
CLIENT = {"token": "console-token", "api_key": "console-key", "user": "marketer@demo"}
"""The credentialed server's one client: the demo org's `prod` sandbox only."""
TENANT_HEADERS = {"x-gw-ims-org-id": DEMO_TENANT.org, "x-sandbox-name": DEMO_TENANT.sandbox}


@dataclass
class Server:
    base: str
    open_mode: bool

    def api(self) -> httpx.Client:
        """An API client for the demo tenant (with the test client's credentials if needed)."""
        headers = dict(TENANT_HEADERS)
        if not self.open_mode:
            headers |= {
                "Authorization": f"Bearer {CLIENT['token']}",
                "x-api-key": CLIENT["api_key"],
            }
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def _serve(tmp: Path, env: dict[str, str]) -> Iterator[Server]:
    with demo_server(tmp, env) as (base, settings):
        yield Server(base, settings.open_mode)


@pytest.fixture(scope="session")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`serve --demo` without credentials: open mode, the demo tenant preselected."""
    yield from _serve(tmp_path_factory.mktemp("console-open"), {"NEXTOFFER_OPEN": "1"})


@pytest.fixture(scope="session")
def credentialed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = [
        {
            "client_id": "console-test",
            "api_key": CLIENT["api_key"],
            "token": CLIENT["token"],
            "user": CLIENT["user"],
            "orgs": {DEMO_TENANT.org: [DEMO_TENANT.sandbox]},
        }
    ]
    env = {"NEXTOFFER_CREDENTIALS": json.dumps(credentials)}
    yield from _serve(tmp_path_factory.mktemp("console-auth"), env)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    """Debian's Chromium: Playwright's own browser download cannot work here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


# pytest-playwright keeps Playwright started for the whole session; its sync API holds an event
# loop running in the main thread while started, so a test of another file that xdist runs on
# the same worker afterwards could not call asyncio.run(). Here Playwright lives for one module.


@pytest.fixture(scope="module")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    pw = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(pw)
    yield pw
    pw.stop()
    gc.collect()  # its finished greenlets now, not inside some later test (tests/helpers.py)


@pytest.fixture(scope="module")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    base_url: str | None,
    _pw_artifacts_folder: Any,
) -> dict[str, object]:
    """pytest-playwright's, at module scope (it reads `playwright`)."""
    args: dict[str, object] = {}
    if device:
        args.update(playwright.devices[device])
    if base_url:
        args["base_url"] = base_url
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        args["record_video_dir"] = _pw_artifacts_folder.name
    return args


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def launch_browser(
    browser_type_launch_args: dict[str, object], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: object) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})  # type: ignore[arg-type]

    return launch


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    launched = launch_browser()
    yield launched
    launched.close()


@dataclass
class Problems:
    """Console errors and uncaught page errors seen by a page."""

    messages: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    """Substrings of errors a test provokes on purpose (a 401 the browser logs)."""

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(e in m for e in self.expected)]


@pytest.fixture
def problems(page: Page) -> Iterator[Problems]:
    """Every console error and page error of the test's page; none may be left unexpected."""
    seen = Problems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.messages.append(f"console: {message.text} at {message.location.get('url')}")

    def on_page_error(error: Error) -> None:
        seen.messages.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield seen
    assert seen.unexpected() == []


AXE_URL = "/console/static/test-only/axe.min.js"


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Serious and critical accessibility violations of the page as it is now (axe-core).

    axe-core is served to the page from the test's copy at a same-origin URL, so the console's
    CSP (`script-src 'self'`) stays on while it runs; the package never ships it."""
    page.route(f"**{AXE_URL}", lambda route: route.fulfill(path=ASSETS / "axe.min.js"))
    page.add_script_tag(url=AXE_URL)
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def open_console(page: Page, server: Server, path: str = "") -> Page:
    """Load a console page and wait until its content region shows a heading."""
    page.goto(server.base + "/console" + path)
    page.locator("#content h1").first.wait_for()
    return page
