"""One bench worker: its share of the clients on one event loop (uvloop when installed).

:func:`run_worker` is what each worker process (or thread) runs. It connects its
clients, posts that on the :class:`~hosepipe.tools.crew.Board`, waits for the starting
gun, then runs every client's request loop at once and returns one result: a histogram
of latencies in microseconds (encoded), requests, errors, first start and last end.

Each client is closed loop (its next request when its last reply is in; the first one
counts from the gun, so waiting to be served at all is latency) or open loop (a fixed
schedule; each request counts from its slot, waited for if early, never moved if late:
wrk2's correction for coordinated omission). A request that fails is an error; the
client reconnects once, and ends if it cannot. Replies have a deadline: one watchdog
per loop cancels a client whose request has run past it, cheaper than a timer per
request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from hosepipe.errors import HosepipeError
from hosepipe.tools.crew import Board
from hosepipe.tools.workload import Workload, open_workload

__all__ = ["ClientPlan", "new_histogram", "run_worker"]

HIGHEST_US = 3_600_000_000  # an hour: the histogram's range is 1 us to this
MAX_ERROR_SAMPLES = 3
_FAILURES = (HosepipeError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_US, 3)


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up (the fast extra)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@dataclass(frozen=True)
class ClientPlan:
    """What every client of a run does (the worker gives each its quota)."""

    address: str
    service: str
    size: int
    payload: str | None
    codec: str
    timeout: float
    duration: float | None  # seconds, when there is no quota
    interval_ns: int | None  # open loop: between one client's intended sends

    async def connect(self) -> Workload:
        return await open_workload(self.address, self.service, size=self.size,
                                   payload=self.payload, codec=self.codec,
                                   timeout=self.timeout)


class _Tally:
    """Latencies counted in a dict first, then into the histogram in bulk: a dict
    increment costs a tenth of ``HdrHistogram.record_value``, which is Python."""

    LIMIT = 65536  # distinct values held before a flush

    def __init__(self, histogram: HdrHistogram) -> None:
        self.histogram = histogram
        self.counts: dict[int, int] = {}

    def record(self, microseconds: int) -> None:
        value = microseconds if microseconds > 0 else 1
        counts = self.counts
        counts[value] = counts.get(value, 0) + 1
        if len(counts) >= self.LIMIT:
            self.flush()

    def flush(self) -> None:
        for value, count in self.counts.items():
            self.histogram.record_value(value, count)
        self.counts.clear()


@dataclass
class _Worker:
    plan: ClientPlan
    index: int
    board: Board
    histogram: HdrHistogram = field(default_factory=new_histogram)
    done: int = 0
    failed: int = 0
    started: int = 0
    samples: list[str] = field(default_factory=list)
    deadlines: dict[asyncio.Task[None], int] = field(default_factory=dict)  # ns
    tally: _Tally = field(init=False)

    def __post_init__(self) -> None:
        self.tally = _Tally(self.histogram)

    def note(self, exc: BaseException) -> None:
        self.failed += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            what = "Timeout: no reply in time" if isinstance(exc, asyncio.CancelledError) \
                else f"{type(exc).__name__}: {exc}"
            self.samples.append(what)

    async def connect_all(self, count: int) -> list[Workload | None]:
        results = await asyncio.gather(*(self.plan.connect() for _ in range(count)),
                                       return_exceptions=True)
        for failure in (r for r in results if isinstance(r, BaseException)):
            self.note(failure)
        return [r if isinstance(r, Workload) else None for r in results]

    async def run(self, workloads: list[Workload | None], quotas: list[int | None]) -> None:
        self.started = time.perf_counter_ns()
        watchdog = asyncio.ensure_future(self._watch())
        clients = [asyncio.ensure_future(self._client(w, q))
                   for w, q in zip(workloads, quotas, strict=True) if w is not None]
        try:
            await asyncio.gather(*clients)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)

    async def _watch(self) -> None:
        """Cancel a client whose request has outlived its deadline."""
        while True:
            await asyncio.sleep(min(self.plan.timeout / 4, 0.1))
            now = time.perf_counter_ns()
            for task, deadline in list(self.deadlines.items()):
                if now > deadline:
                    del self.deadlines[task]
                    task.cancel()

    async def _client(self, workload: Workload, quota: int | None) -> None:
        """One client's request loop (the hot path: locals, no calls that can be spared)."""
        task = asyncio.current_task()
        assert task is not None
        live: Workload | None = await self._opened(workload, task)
        slot, interval, first = self.started, self.plan.interval_ns, True
        deadlines, timeout = self.deadlines, int(self.plan.timeout * 1e9)
        cells, progress, stop = self.board.cells, self.index, self.board.stop_index
        clock, tally = time.perf_counter_ns, self.tally
        stop_at = self.started + int((self.plan.duration or 0) * 1e9)
        while live is not None and not cells[stop] and (
                clock() < stop_at if quota is None else quota > 0):
            now = clock()
            if interval is None:  # closed loop; the first counts from the gun
                sent = self.started if first else now
            else:  # open loop: from the request's slot in the schedule
                if now < slot:
                    await asyncio.sleep((slot - now) / 1e9)
                sent, slot = slot, slot + interval
            first, quota = False, None if quota is None else quota - 1
            deadlines[task] = now + timeout
            try:
                await live.request()
            except _FAILURES as exc:
                deadlines.pop(task, None)  # (the watchdog removes what it cancels)
                self.note(exc)
                await live.close()
                live = await self._reconnected(task)
                continue
            del deadlines[task]
            tally.record((clock() - sent) // 1000)
            self.done += 1
            cells[progress] = self.done
        if live is not None:
            await live.close()

    async def _timed(self, step: Coroutine[Any, Any, None],
                     task: asyncio.Task[None]) -> BaseException | None:
        """Run ``step`` under the watchdog's deadline; what it failed with, if it did."""
        self.deadlines[task] = time.perf_counter_ns() + int(self.plan.timeout * 1e9)
        try:
            await step
        except _FAILURES as exc:
            return exc
        finally:
            self.deadlines.pop(task, None)
        return None

    async def _opened(self, workload: Workload, task: asyncio.Task[None]) -> Workload | None:
        """``workload`` after its opening; None (an error noted) if that failed."""
        failure = await self._timed(workload.start(), task)
        if failure is None:
            return workload
        self.note(failure)
        await workload.close()
        return None

    async def _reconnected(self, task: asyncio.Task[None]) -> Workload | None:
        try:
            workload = await self.plan.connect()  # open_workload has its own deadline
        except _FAILURES as exc:
            self.note(exc)
            return None
        return await self._opened(workload, task)

    def result(self) -> dict[str, Any]:
        self.tally.flush()
        return {"histogram": self.histogram.encode(), "requests": self.done,
                "errors": self.failed, "started": self.started,
                "ended": time.perf_counter_ns(), "error_samples": self.samples}


def run_worker(plan: ClientPlan, quotas: list[int | None], index: int,
               board: Board) -> dict[str, Any]:
    """Connect this worker's clients, wait for the gun, run them; the worker's result."""
    worker = _Worker(plan, index, board)
    loop = new_event_loop()
    try:
        workloads = loop.run_until_complete(worker.connect_all(len(quotas)))
        board.set_state(index, Board.CONNECTED if any(workloads) else Board.FAILED)
        if not board.go.wait(plan.timeout + 30):
            worker.samples.append("never started")
            loop.run_until_complete(asyncio.gather(*(w.close() for w in workloads if w)))
            return worker.result()
        loop.run_until_complete(worker.run(workloads, quotas))
        return worker.result()
    finally:
        loop.close()
