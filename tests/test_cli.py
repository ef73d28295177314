"""The command line, run for real: in-process through typer, and `serve --demo` as a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from nextoffer.cli import app
from nextoffer.demo import demo_library

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> object:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(demo_library()))
    return path


def test_import_then_export_round_trips(db: str, demo_file: Path, tmp_path: Path) -> None:
    result = run("library", "import", str(demo_file), "--db", db)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    exported = run("library", "export", "--sandbox", "prod", "--db", db)
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.stdout)
    assert data["org"] == "demo@AdobeOrg"
    assert {o["id"] for o in data["objects"]["tag"]} == {
        o["id"] for o in demo_library()["objects"]["tag"]
    }
    out = tmp_path / "copy.json"
    result = run(
        "library",
        "export",
        "--sandbox",
        "prod",
        "--org",
        "demo@AdobeOrg",
        "-o",
        str(out),
        "--db",
        db,
    )
    assert result.exit_code == 0 and json.loads(out.read_text())["objects"] == data["objects"]
    again = run("library", "import", str(out), "--sandbox", "staging", "--db", db)
    assert again.exit_code == 0, again.output


def test_import_errors_are_reported_with_pointers_and_exit_1(db: str, tmp_path: Path) -> None:
    bad = demo_library()
    bad["objects"]["offer-activity"][0]["fallback"] = "dps:fallback-offer:nope"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = run("library", "import", str(path), "--db", db)
    assert result.exit_code == 1
    assert "/objects/offer-activity/0/fallback" in result.output
    assert run("library", "export", "--sandbox", "prod", "--db", db).exit_code == 2  # nothing there


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{not json", "is not JSON"), ("[1]", "not a library export")],
)
def test_unreadable_files_are_clear_errors(
    db: str, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    result = run("library", "import", str(path), "--db", db)
    assert result.exit_code == 2 and message in result.output


def test_export_needs_an_org_when_several_have_the_sandbox(db: str, demo_file: Path) -> None:
    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    assert (
        run("library", "import", str(demo_file), "--org", "other@AdobeOrg", "--db", db).exit_code
        == 0
    )
    result = run("library", "export", "--sandbox", "prod", "--db", db)
    assert result.exit_code == 2 and "--org" in result.output


def test_db_commands(db: str) -> None:
    assert run("db", "upgrade", "--db", db).exit_code == 0
    result = run("db", "current", "--db", db)
    current, head = result.stdout.split()[1], result.stdout.split()[3]
    assert result.exit_code == 0 and current == head != "None"
    assert run("db", "downgrade", "base", "--db", db).exit_code == 0
    assert "current: None" in run("db", "current", "--db", db).stdout


def test_serve_refuses_to_run_without_credentials_or_open(db: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")}
    result = runner.invoke(app, ["serve", "--db", db], env=env)
    assert result.exit_code == 2 and "no credentials" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_answers_over_real_http(tmp_path: Path) -> None:
    """The README's first command: a real server process with the demo library loaded."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nextoffer",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "d.db"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"x-gw-ims-org-id": "demo@AdobeOrg", "x-sandbox-name": "prod"}
        r = httpx.get(
            f"{base}/data/core/dps/offer-decisions?property=status==live", headers=headers
        )
        assert r.status_code == 200
        assert {d["id"] for d in r.json()["results"]} == {
            "dps:offer-activity:homepage-and-email",
            "dps:offer-activity:app-home",
        }
        assert httpx.get(f"{base}/openapi.json").status_code == 200
        ada = httpx.get(f"{base}/v1/profiles/email/ada.lovelace@example.com", headers=headers)
        assert ada.status_code == 200 and ada.json()["attributes"]["loyalty"]["tier"] == "gold"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode()
    assert "OPEN MODE" in output and "demo library loaded" in output
    assert "demo profiles loaded: 3" in output


def test_decide_prints_propositions_and_explanations(db: str, demo_file: Path) -> None:
    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    scope = "dps:offer-activity:homepage-and-email,dps:offer-placement:web-hero"
    silver = '{"loyalty": {"tier": "silver"}}'
    args = ["decide", "--sandbox", "prod", "--scope", scope, "--attributes", silver, "--explain"]
    result = run(*args, "--db", db)
    assert result.exit_code == 0, result.output
    assert "Double points weekend" in result.stdout
    assert "Airport lounge pass" in result.stdout and "ineligible" in result.stdout
    explained = json.loads(run(*args, "--json", "--db", db).stdout)
    trace = explained["xdm:propositions"][0]["nextoffer:explanation"]
    gold = next(c for c in trace["candidates"] if c["offer"].endswith("gold-lounge"))
    assert gold["reason"] == "ineligible"
    assert gold["rule"]["failed"] == 'loyalty.tier = "gold"'
    result = run(
        "decide",
        "--sandbox",
        "prod",
        "--decision",
        "dps:offer-activity:homepage-and-email",
        "--placement",
        "dps:offer-placement:web-hero",
        "--attributes",
        '{"loyalty": {"tier": "gold"}}',
        "--json",
        "--db",
        db,
    )
    out = json.loads(result.stdout)
    options = out["xdm:propositions"][0]["xdm:options"]
    assert options[0]["xdm:id"] == "dps:personalized-offer:gold-lounge"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "just-one"], "is not DECISION,PLACEMENT"),
        (["--decision", "d"], "go together"),
        ([], "name a scope"),
        (["--scope", "d,p", "--profile", "no-namespace"], "is not NAMESPACE:ID"),
        (["--scope", "d,p", "--attributes", "{bad"], "is not JSON"),
        (
            ["--scope", "dps:offer-activity:nope,dps:offer-placement:web-hero"],
            "there is no decision",
        ),
    ],
)
def test_decide_input_errors(db: str, demo_file: Path, args: list[str], message: str) -> None:
    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    result = run("decide", "--sandbox", "prod", *args, "--db", db)
    assert result.exit_code != 0 and message in result.output, result.output


# -- profiles ------------------------------------------------------------------------------------


def _profiles_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "profiles.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_profiles_load_then_decide_for_a_stored_profile(
    db: str, demo_file: Path, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from nextoffer.demo.profiles import demo_profiles

    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    lines = [json.dumps(p) for p in demo_profiles(datetime.now(UTC))]
    path = _profiles_file(tmp_path, *lines, "")
    result = run("profiles", "load", str(path), "--sandbox", "prod", "--db", db)
    assert result.exit_code == 0, result.output
    assert "loaded 3 profiles into demo@AdobeOrg / prod: 3 created, 0 replaced" in result.output
    result = run("profiles", "load", str(path), "--sandbox", "prod", "--db", db)
    assert "0 created, 3 replaced" in result.output
    hero = ["--decision", "dps:offer-activity:homepage-and-email"]
    hero += ["--placement", "dps:offer-placement:web-hero"]
    for identity, first in (
        ("ecid:10000000000000000000000000000000000001", "gold-lounge"),  # Ada: gold
        ("phone:+33612345678", "double-points"),  # Bruno: silver
    ):
        result = run(
            "decide", "--sandbox", "prod", *hero, "--profile", identity, "--json", "--db", db
        )
        assert result.exit_code == 0, result.output
        options = json.loads(result.stdout)["xdm:propositions"][0]["xdm:options"]
        assert options[0]["xdm:id"] == f"dps:personalized-offer:{first}"
    result = run(
        "decide", "--sandbox", "prod", *hero, "--profile", "email:chen.wei@example.com", "--db", db
    )
    assert result.exit_code == 0 and "Airport lounge pass" in result.stdout
    assert "no stored profile" not in result.stdout


def test_decide_record_writes_decision_events(db: str, demo_file: Path) -> None:
    from nextoffer.store.database import Database
    from nextoffer.store.decision_events import DecisionEventLog
    from nextoffer.tenants import Tenant

    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    scope = "dps:offer-activity:app-home,dps:offer-placement:app-card"
    for extra in ([], ["--record"]):
        result = run("decide", "--sandbox", "prod", "--scope", scope, *extra, "--db", db)
        assert result.exit_code == 0, result.output
    database = Database(f"sqlite:///{Path(db).resolve()}")
    page = DecisionEventLog(database).query(Tenant("demo@AdobeOrg", "prod"))
    database.dispose()
    assert len(page.items) == 1  # the dry run (the default) wrote nothing
    assert page.items[0].placement_id == "dps:offer-placement:app-card"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"identityMap": {"email": [{"id": "a"}]}}', "{nope"], "line 2: not valid JSON"),
        (['{"identityMap": {}}'], "line 1: the profile is invalid"),
        (
            ['{"identityMap": {"email": [{"id": "a"}]}, "segments": {"s": "sometimes"}}'],
            "/segments/s: status must be one of realized, existing, exited",
        ),
        (
            [
                '{"identityMap": {"email": [{"id": "a"}]}}',
                '{"identityMap": {"email": [{"id": "b"}]}}',
                '{"identityMap": {"email": [{"id": "a"}, {"id": "b"}]}}',
            ],
            "line 3: identities of this profile belong to another profile",
        ),
    ],
)
def test_profiles_load_refuses_bad_input_and_loads_nothing(
    db: str, demo_file: Path, tmp_path: Path, lines: list[str], message: str
) -> None:
    assert run("library", "import", str(demo_file), "--db", db).exit_code == 0
    path = _profiles_file(tmp_path, *lines)
    result = run("profiles", "load", str(path), "--sandbox", "prod", "--db", db)
    assert result.exit_code == 1 and message in result.output, result.output
    check = run(
        "decide",
        "--sandbox",
        "prod",
        "--scope",
        "dps:offer-activity:app-home,dps:offer-placement:app-card",
        "--profile",
        "email:a",
        "--db",
        db,
    )
    assert "no stored profile" in check.stdout


def test_profiles_load_file_and_tenant_errors(db: str, demo_file: Path, tmp_path: Path) -> None:
    missing = run(
        "profiles",
        "load",
        str(tmp_path / "none.jsonl"),
        "--sandbox",
        "prod",
        "--org",
        "o@AdobeOrg",
        "--db",
        db,
    )
    assert missing.exit_code == 2 and "cannot read" in missing.output
    path = _profiles_file(tmp_path, '{"identityMap": {"email": [{"id": "a"}]}}')
    unknown = run("profiles", "load", str(path), "--sandbox", "nowhere", "--db", db)
    assert unknown.exit_code == 2 and "no org has a sandbox named 'nowhere'" in unknown.output
    ok = run(
        "profiles", "load", str(path), "--sandbox", "fresh", "--org", "new@AdobeOrg", "--db", db
    )
    assert ok.exit_code == 0 and "1 created" in ok.output


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTOFFER_")}
    return {**env, **extra}


CREDENTIALS_JSON = json.dumps([{"client_id": "c", "api_key": "k", "token": "t", "orgs": ["*"]}])


def test_open_mode_never_overrides_credentials(db: str) -> None:
    env = _clean_env(NEXTOFFER_OPEN="1", NEXTOFFER_CREDENTIALS=CREDENTIALS_JSON)
    result = runner.invoke(app, ["serve", "--db", db], env=env)
    assert result.exit_code == 2, result.output
    assert "NEXTOFFER_OPEN" in result.output and "NEXTOFFER_CREDENTIALS" in result.output
    env = _clean_env(NEXTOFFER_CREDENTIALS=CREDENTIALS_JSON)
    result = runner.invoke(app, ["serve", "--open", "--db", db], env=env)
    assert result.exit_code == 2 and "never overrides credentials" in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])
def test_open_mode_refuses_a_public_host_unless_forced(db: str, host: str) -> None:
    result = runner.invoke(app, ["serve", "--open", "--host", host, "--db", db], env=_clean_env())
    assert result.exit_code == 2, result.output
    assert "not a loopback address" in result.output and "--open-on-public-host" in result.output


def test_loopback_hosts() -> None:
    from nextoffer.cli import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_database_urls_are_printed_without_their_password() -> None:
    from nextoffer.config import masked_url

    assert masked_url("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert (
        masked_url("postgresql+psycopg://app:p@ss:w@rd@db/x") == "postgresql+psycopg://app:***@db/x"
    )
    assert masked_url("redis://:s3cr3t@cache:6379/0") == "redis://:***@cache:6379/0"
    assert masked_url("postgresql://app@db/x") == "postgresql://app@db/x"
    assert masked_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def test_serve_banner_masks_the_password(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """The real start-up path up to uvicorn (PostgreSQL trusts the fake password)."""
    base = postgres_url
    import sqlalchemy as sa
    import uvicorn

    url = sa.engine.make_url(base).set(password="s3cr3t-pw").render_as_string(hide_password=False)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # everything before it runs
    env = _clean_env(NEXTOFFER_CREDENTIALS=CREDENTIALS_JSON, NEXTOFFER_AUTO_MIGRATE="0")
    result = runner.invoke(app, ["serve", "--db", url], env=env)
    assert result.exit_code == 0, result.output
    assert "s3cr3t-pw" not in result.output and ":***@" in result.output


def test_serve_refuses_a_header_timeout_that_is_no_positive_number(db: str) -> None:
    for raw in ("0", "-1", "soon"):
        env = _clean_env(NEXTOFFER_HEADER_TIMEOUT_SECONDS=raw)
        result = runner.invoke(app, ["serve", "--open", "--db", db], env=env)
        assert result.exit_code == 2, result.output
        assert "NEXTOFFER_HEADER_TIMEOUT_SECONDS must be" in result.output
