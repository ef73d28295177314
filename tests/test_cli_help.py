"""`--help` of every command shows boolean flags without a value: `--demo`, not `--demo <bool>`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from nextoffer.cli import app

SRC = Path(__file__).resolve().parents[1] / "src"


def _commands(
    command: object, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(get_command(app)))


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "nextoffer")
def test_every_flag_of_every_command_takes_no_value_in_help(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    ctx = command.make_context("nextoffer", [], resilient_parsing=True)
    flags = [p for p in command.get_params(ctx) if getattr(p, "is_flag", False)]
    assert any("--help" in f.opts for f in flags)
    for flag in flags:
        # the empty metavar is what keeps typer (0.28+) from printing `<bool>` after a flag
        assert flag.metavar == "", flag.opts
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_serve_help_through_the_real_entry_point_shows_flags_bare() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "160", "TERM": "dumb"}
    result = subprocess.run(
        [sys.executable, "-m", "nextoffer", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    rows = {w[1]: w[2] for w in (line.split() for line in result.stdout.splitlines()) if len(w) > 2}
    for flag in ("--demo", "--open", "--open-on-public-host", "--help"):
        assert not rows[flag].startswith("<"), rows[flag]  # the help text follows the name
    assert rows["--port"] == "<int>"  # an option that takes a value still shows its type
