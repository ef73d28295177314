"""A client author's check: `openapi-python-client` (default settings) takes `/openapi.json`
without a warning, and the client it writes works against a real server.

The server is uvicorn on a free port over a SQLite file, with the suite's test credentials.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from nextoffer.api.app import create_app
from nextoffer.store.database import Database
from tests.conftest import build_services, new_org
from tests.helpers import Api

HEADERS = {"Authorization": "Bearer acme-token", "x-api-key": "acme-key"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('client') / 'library.db'}")
    db.upgrade()
    app = create_app(services_=build_services(db))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield base
    srv.should_exit = True
    thread.join(10)
    db.dispose()


@pytest.fixture(scope="module")
def client_package(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported; generation must print no warning and no error."""
    out = tmp_path_factory.mktemp("generated")
    spec = out / "openapi.json"
    spec.write_text(httpx2.get(f"{server}/openapi.json").text)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    assert "warning" not in said.lower() and "error" not in said.lower(), said
    sys.path.insert(0, str(out / "nextoffer-client"))
    try:
        yield importlib.import_module("nextoffer_client")
    finally:
        sys.path.remove(str(out / "nextoffer-client"))
        for name in [m for m in sys.modules if m.startswith("nextoffer_client")]:
            del sys.modules[name]


def test_generated_client_creates_reads_lists_and_decides(
    server: str, client_package: Any, spec_dir: Path
) -> None:
    org = new_org()
    tenant = {"x_gw_ims_org_id": org, "x_sandbox_name": "prod"}
    client = client_package.Client(base_url=server, headers=HEADERS)
    models = importlib.import_module("nextoffer_client.models")
    create_offers = importlib.import_module("nextoffer_client.api.offers.create_offers")
    get_offers = importlib.import_module("nextoffer_client.api.offers.get_offers")
    list_decisions = importlib.import_module(
        "nextoffer_client.api.offer_decisions.list_offer_decisions"
    )
    decide = importlib.import_module("nextoffer_client.api.decisioning.decide")

    with httpx2.Client(base_url=server) as raw:  # the rest of the library, set up plainly
        setup = Api(raw, org, "prod", create_sandbox=False)  # type: ignore[arg-type]
        placement = setup.placement(component="imagelink")

    # the fallback offer: Adobe's documented body, its placement made real
    example = json.loads((spec_dir / "examples" / "fallback-offer.create.request.json").read_text())
    example["representations"][0]["placement"] = placement
    created = create_offers.sync_detailed(
        client=client,
        body=models.FallbackOffer.from_dict(example),
        offer_type=models.CreateOffersOfferType.FALLBACK,
        **tenant,
    )
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.WriteReceipt)
    fallback_id = created.parsed.id

    read = get_offers.sync_detailed(
        fallback_id, client=client, offer_type=models.GetOffersOfferType.FALLBACK, **tenant
    )
    assert read.status_code == 200, read.content
    assert isinstance(read.parsed, models.FallbackOfferRead), type(read.parsed)
    assert read.parsed.name == example["name"]

    with httpx2.Client(base_url=server) as raw:
        setup = Api(raw, org, "prod", create_sandbox=False)  # type: ignore[arg-type]
        offer = setup.offer([placement], component="imagelink")
        decision = setup.decision(
            [placement], setup.collection([offer]), fallback_id, status="live"
        )

    page = list_decisions.sync_detailed(client=client, **tenant)
    assert page.status_code == 200, page.content
    assert [d.id for d in page.parsed.results] == [decision]

    request = models.DecisionRequest.from_dict(
        {
            "xdm:propositionRequests": [{"xdm:activityId": decision, "xdm:placementId": placement}],
            "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": "ada@example.com"}]}}],
        }
    )
    answer = decide.sync_detailed(client=client, body=request, **tenant)
    assert answer.status_code == 200, answer.content
    assert isinstance(answer.parsed, models.DecisionResponse)
    (proposition,) = answer.parsed.xdmpropositions
    assert proposition.xdmactivity.xdmid == decision
