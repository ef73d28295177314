"""Readiness checks with a bounded wait: a dependency that hangs counts as down after
`CHECK_TIMEOUT`, so a probe answers in about that time whatever the network does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("nextoffer.api")

CHECK_TIMEOUT = 1.0
"""Seconds each dependency has to answer a readiness check."""

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nextoffer-ready")
"""Checks run here, apart from request threads: a hung check holds one of these only."""


async def probe(
    checks: Mapping[str, Callable[[], object]], timeout: float = CHECK_TIMEOUT
) -> dict[str, object]:
    """Run every check at once; each name maps to the check's result or the error it raised
    (`TimeoutError` when it did not answer within `timeout`)."""
    loop = asyncio.get_running_loop()
    names = list(checks)
    futures = [loop.run_in_executor(_pool, checks[n]) for n in names]
    results = await asyncio.gather(
        *(asyncio.wait_for(f, timeout) for f in futures), return_exceptions=True
    )
    out: dict[str, object] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, asyncio.TimeoutError):
                result = TimeoutError(f"no answer within {timeout:g} s")
            log.warning("readiness: %s unavailable: %s", name, result)
        out[name] = result
    return out
