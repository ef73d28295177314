"""Drive a server with `wrk` (Debian package `wrk`), closed loop or at a paced rate.

wrk is far lighter than any Python client, so the server, not the load generator, is what
gets measured. A paced run gives each connection a fixed delay between requests, which with
enough connections approximates an open-loop arrival rate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import pin


def available() -> bool:
    return shutil.which("wrk") is not None


def prepare() -> None:
    """Exit unless wrk is installed; move this process (and the wrk runs it starts) to core 1,
    away from the server under test on core 0."""
    if not available():
        sys.exit("this benchmark needs wrk: apt-get install wrk")
    if pin(1):
        os.sched_setaffinity(0, {1})


@dataclass
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self, baseline: WrkResult | None = None) -> str:
        ratio = f"{self.rps / baseline.rps:.2f}" if baseline else "1.00"
        return (
            f"| {self.name} | {self.rps:,.0f} | {ratio} | {self.p50_ms:.2f} | {self.p99_ms:.2f} "
            f"| {self.errors} |"
        )


_SCRIPT = """
local bodies = {bodies}
local paths = {paths}
local headers = {headers}
local method = "{method}"
local delay_ms = {delay_ms}
local i = 0
local bad = 0
function request()
  i = i + 1
  local body = nil
  if #bodies > 0 then body = bodies[(i % #bodies) + 1] end
  local path = nil
  if #paths > 0 then path = paths[(i % #paths) + 1] end
  return wrk.format(method, path, headers, body)
end
function response(status, hdrs, body)
  if status >= 400 then bad = bad + 1 end
end
if delay_ms > 0 then
  function delay() return delay_ms end
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run(
    name: str,
    url: str,
    *,
    method: str = "GET",
    bodies: list[bytes] | None = None,
    paths: list[str] | None = None,
    headers: dict[str, str] | None = None,
    seconds: float = 8.0,
    connections: int = 16,
    rate: float | None = None,
    latency_ms: float = 0.0,
) -> WrkResult:
    """One wrk run; with `rate`, each connection waits so that all of them add up to it.

    A connection sends, waits for the answer (`latency_ms`, from a closed-loop run), then its
    delay: the delay is what is left of its share of the rate's interval.
    """
    delay_ms = max(1, round(connections / rate * 1000 - latency_ms)) if rate else 0
    script = _SCRIPT.format(
        bodies="{" + ",".join(_lua_string(b.decode()) for b in bodies or []) + "}",
        paths="{" + ",".join(_lua_string(p) for p in paths or []) + "}",
        headers="{"
        + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in (headers or {}).items())
        + "}",
        method=method,
        delay_ms=delay_ms,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run(
            [
                *pin(1),
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds:.0f}s",
                "--latency",
                "-s",
                path,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(path).unlink(missing_ok=True)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not m:
        raise RuntimeError(f"wrk gave no result:\n{out}")
    requests, duration_us, p50, p99, errors = m.groups()
    return WrkResult(
        name, int(requests) / (int(duration_us) / 1e6), float(p50), float(p99), int(errors)
    )
