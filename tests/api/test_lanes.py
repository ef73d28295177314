"""`api.lanes`: blocking work runs off the event loop; a write lane whose threads are all taken
refuses, after its wait, with `Busy`; a read lane queues instead."""

from __future__ import annotations

import asyncio
import threading

import pytest

from nextoffer.api.lanes import Lane
from nextoffer.errors import Busy


def blocker(release: threading.Event, started: threading.Event) -> str:
    started.set()
    assert release.wait(30)
    return "done"


def test_work_runs_in_a_lane_thread_not_on_the_event_loop() -> None:
    lane = Lane("read", 2)

    async def main() -> tuple[str, str]:
        return threading.current_thread().name, await lane.run(
            lambda: threading.current_thread().name
        )

    loop_thread, worker = asyncio.run(main())
    assert loop_thread != worker and worker.startswith("nextoffer-read")


def test_a_full_write_lane_refuses_after_its_wait_and_serves_again_once_free() -> None:
    lane = Lane("write", 1, wait=0.2)
    release, started = threading.Event(), threading.Event()

    async def main() -> tuple[BaseException | str, ...]:
        first = asyncio.ensure_future(lane.run(blocker, release, started))
        while not started.is_set():
            await asyncio.sleep(0.005)
        assert lane.in_flight == 1
        try:
            await lane.run(str, "never")
        except Busy as exc:
            refused: BaseException | str = exc
        else:  # pragma: no cover - the assertion below fails
            refused = "ran"
        release.set()
        return refused, await first, await lane.run(str, "again")

    refused, first, again = asyncio.run(main())
    assert isinstance(refused, Busy)
    assert refused.code == "busy" and refused.extra == {"retryAfter": 1}
    assert refused.detail == (
        "every write worker is busy (waited 0.2 s); nothing was written: retry in 1 s"
    )
    assert (first, again) == ("done", "again")
    assert lane.in_flight == 0


def test_a_read_lane_queues_instead_of_refusing() -> None:
    lane = Lane("read", 1)
    release, started = threading.Event(), threading.Event()

    async def main() -> list[str]:
        first = asyncio.ensure_future(lane.run(blocker, release, started))
        while not started.is_set():
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(lane.run(str, "queued"))
        await asyncio.sleep(0.3)
        assert not second.done()
        release.set()
        return [await first, await second]

    assert asyncio.run(main()) == ["done", "queued"]


def test_an_abandoned_request_gives_its_thread_back_only_when_the_work_ends() -> None:
    """A client that hangs up cancels its request; the thread still runs its work, and the
    gate counts it taken until then (else more writes would run than the lane has threads)."""
    lane = Lane("write", 1, wait=0.2)
    release, started = threading.Event(), threading.Event()

    async def main() -> None:
        first = asyncio.ensure_future(lane.run(blocker, release, started))
        while not started.is_set():
            await asyncio.sleep(0.005)
        first.cancel()
        with pytest.raises(Busy):
            await lane.run(str, "too soon")
        release.set()
        while lane.in_flight:
            await asyncio.sleep(0.005)
        assert await lane.run(str, "after") == "after"

    asyncio.run(main())
