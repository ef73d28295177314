"""examples/scaled-out: the compose file cannot run here (no Docker), so it is checked for what
can go stale: it parses, its commands are real CLI commands and flags, its variables are real
settings with valid values, and the proxy points at its nodes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.main import get_command

from nextoffer.cli import app
from nextoffer.config import ENV_PREFIX, Settings, parse_credentials

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scaled-out"
COMPOSE = yaml.safe_load((EXAMPLE / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
NODES = sorted(name for name, s in SERVICES.items() if s.get("command", [None])[0] == "serve")
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_stack_has_its_parts() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "node1", "node2", "proxy"}
    assert NODES == ["node1", "node2"]
    assert SERVICES["migrate"]["command"] == ["db", "upgrade"]
    for node in NODES:
        assert SERVICES[node]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


@pytest.mark.parametrize("service", ["migrate", "node1", "node2"])
def test_each_command_parses_as_the_real_cli(service: str) -> None:
    args = list(SERVICES[service]["command"])
    command = get_command(app)
    while hasattr(command, "commands") and args and args[0] in command.commands:
        command = command.commands[args.pop(0)]
    assert not hasattr(command, "commands"), f"{service}: no such command"
    ctx = command.make_context("nextoffer", args)  # unknown flags or bad values raise
    if service != "migrate":
        assert ctx.params["host"] == "0.0.0.0" and ctx.params["port"] == 8000


def _environment(service: str) -> dict[str, str]:
    env = {k: str(v) for k, v in SERVICES[service]["environment"].items()}
    env[f"{ENV_PREFIX}CREDENTIALS_FILE"] = str(EXAMPLE / "credentials.example.json")
    return env


def test_every_variable_is_a_real_setting_with_a_valid_value() -> None:
    env = _environment("node1")
    fields = {f.name for f in dataclasses.fields(Settings)}
    for name in env:
        assert name.startswith(ENV_PREFIX)
        setting = name.removeprefix(ENV_PREFIX).lower()
        assert setting in fields or setting == "credentials_file", name
        assert f"`{name}`" in README, f"{name} is not in README's configuration table"
    settings = Settings.from_env(env)
    assert settings.capping_store == "redis" and settings.redis_url == "redis://redis:6379/0"
    assert settings.database_url.startswith("postgresql://") and not settings.auto_migrate
    assert [c.client_id for c in settings.credentials] == ["web-shop", "ops"]
    assert settings.batch_workers == 2 and not settings.open_mode


def test_the_example_tokens_are_the_ones_the_readme_gives() -> None:
    creds = parse_credentials(json.loads((EXAMPLE / "credentials.example.json").read_text()))
    tokens = dict(re.findall(r"`(\S+-token-CHANGE-ME)` \(client `(\S+)`", README))
    assert set(tokens.values()) == {"web-shop", "ops"}
    for token, client in tokens.items():
        [cred] = [c for c in creds if c.client_id == client]
        assert cred.token_sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_the_proxy_sends_to_both_nodes_on_their_port() -> None:
    conf = (EXAMPLE / "nginx.conf").read_text()
    upstream = re.findall(r"^\s*server (\w+):(\d+)", conf, re.M)
    assert upstream == [(node, "8000") for node in NODES]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in SERVICES["proxy"]["volumes"]
    assert SERVICES["proxy"]["ports"] == ["8080:8080"] and "listen 8080;" in conf
