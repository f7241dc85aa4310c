"""``hosepipe bench ADDRESS``: many clients at once, latency in an HDR histogram.

:func:`bench` spreads ``clients`` over ``workers`` (forked processes by default, one per
CPU and at most one per client, or threads: :mod:`hosepipe.tools.crew`). Each worker
runs its clients on one event loop (:mod:`hosepipe.tools.bench_loop`): they connect,
wait for the starting gun, then run requests until their share of ``requests`` is done,
``duration`` has passed or the stop flag is raised, recording each latency in
microseconds in the worker's own histogram (``hdrhistogram``); the parent merges them.

Closed loop (the default): each client sends its next request as soon as the last reply
is in. Open loop (``rate``): each client sends on a fixed schedule (``rate / clients``
per second) and latency is measured from the *intended* send time. A server that stalls
for a second then shows a second of latency on every request that should have been sent
during the stall, as wrk2 does; measured from the actual send, the stall would hide
behind a single slow request ("coordinated omission").

Why not a process per client, as the tutorial forks them: a blocking client wakes up
once per request, and that costs more CPU than the request (about 22 us against 8 per
echo round trip, measured): the bench, not the server, would set the pace.
``workers=clients`` gives that arrangement back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from hosepipe.errors import ConnectError, UsageError
from hosepipe.tools.bench_loop import MAX_ERROR_SAMPLES, ClientPlan, new_histogram, run_worker
from hosepipe.tools.crew import Crew, ProcessCrew, ThreadCrew
from hosepipe.tools.workload import check_address, check_workload

__all__ = ["PERCENTILES", "BenchOptions", "BenchResult", "bench", "new_histogram"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass(frozen=True)
class BenchOptions:
    service: str = "echo"  # echo, upper, square; any name with payload
    clients: int = 8
    requests: int | None = None  # in all; None: run for duration
    duration: float | None = None  # seconds; the default is 5 when requests is None too
    size: int = 64  # bytes per classic request
    rate: float | None = None  # requests per second in all: open loop
    payload: str | None = None  # JSON: a framed request to a message service
    codec: str = "msgpack"
    threads: bool = False  # threads instead of processes
    workers: int | None = None  # processes (or threads); default: one per CPU, <= clients
    timeout: float = 10.0  # per connect and per reply

    def check(self) -> None:
        if self.clients < 1:
            raise UsageError("-c/--clients must be at least 1")
        if self.requests is not None and self.requests < self.clients:
            raise UsageError("-n/--requests must be at least the number of clients")
        if self.duration is not None and self.duration <= 0:
            raise UsageError("-d/--duration must be positive")
        if self.rate is not None and self.rate <= 0:
            raise UsageError("--rate must be positive")
        if self.timeout <= 0:
            raise UsageError("--timeout must be positive")
        if self.workers is not None and not 1 <= self.workers <= self.clients:
            raise UsageError("--workers must be between 1 and the number of clients")
        check_workload(self.service, self.size, self.payload)


@dataclass
class BenchResult:
    """What a run measured; latencies in microseconds."""

    label: str
    clients: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    histogram: HdrHistogram = field(default_factory=new_histogram)
    interrupted: bool = False
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> int:
        return int(self.histogram.get_value_at_percentile(p)) if self.requests else 0

    @property
    def max_us(self) -> int:
        return int(self.histogram.get_max_value()) if self.requests else 0

    def to_json(self) -> dict[str, Any]:
        latency = {f"p{p:g}": self.percentile(p) for p in PERCENTILES}
        return {"label": self.label, "clients": self.clients, "requests": self.requests,
                "errors": self.errors, "seconds": round(self.seconds, 6),
                "throughput": round(self.throughput, 1),
                "latency_us": {**latency, "max": self.max_us,
                               "mean": round(self.histogram.get_mean_value(), 1)},
                "interrupted": self.interrupted, "error_samples": self.error_samples}


def _shares(total: int | None, count: int) -> list[int | None]:
    if total is None:
        return [None] * count
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


def _start(address: str, options: BenchOptions) -> Crew:
    interval = None if options.rate is None else int(1e9 * options.clients / options.rate)
    duration = options.duration if options.requests is None else None
    if options.requests is None and duration is None:
        duration = 5.0
    plan = ClientPlan(address, options.service, options.size, options.payload, options.codec,
                      options.timeout, duration, interval)
    quotas = _shares(options.requests, options.clients)
    count = options.workers or min(options.clients, os.cpu_count() or 1)
    groups = [quotas[i::count] for i in range(count)]  # clients dealt out like cards
    crew_type = ThreadCrew if options.threads else ProcessCrew
    return crew_type(count, lambda index, board: run_worker(plan, groups[index], index, board))


Progress = Callable[[int], None]  # requests done so far


def bench(address: str, options: BenchOptions | None = None, *, label: str | None = None,
          progress: Progress | None = None) -> BenchResult:
    """Run the bench against ``address``. Ctrl-C ends it early: the result holds what
    was measured until then, with ``interrupted`` set."""
    options = options or BenchOptions()
    options.check()
    check_address(address)
    result = BenchResult(label or address, options.clients)
    crew = _start(address, options)
    try:
        _await_connections(crew, options.timeout + 30)
        crew.board.go.set()
        _collect(crew, result, progress)
    except KeyboardInterrupt:
        result.interrupted = True
        crew.board.stop()
        crew.board.go.set()
        _collect(crew, result, None)
    finally:
        crew.board.stop()
        crew.board.go.set()
        crew.close()
    if result.requests == 0 and result.error_samples and not result.interrupted:
        raise ConnectError(f"no request was answered: {result.error_samples[0]}")
    return result


def _await_connections(crew: Crew, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while 0 in crew.board.states() and time.monotonic() < deadline:
        time.sleep(0.005)


def _collect(crew: Crew, result: BenchResult, progress: Progress | None) -> None:
    first, last = None, None
    while crew.alive():
        for got in crew.results(0.1):
            if "histogram" in got:
                result.histogram.add(HdrHistogram.decode(got["histogram"]))
                result.requests += got["requests"]
                result.errors += got["errors"]
                first = min(first or got["started"], got["started"])
                last = max(last or got["ended"], got["ended"])
            else:
                result.errors += 1
            samples = got.get("error_samples") or [got.get("connect_error") or got.get("crashed")]
            result.error_samples += [s for s in samples if s][: MAX_ERROR_SAMPLES]
        if progress is not None:
            progress(crew.board.total())
    result.error_samples = result.error_samples[:MAX_ERROR_SAMPLES]
    if first is not None and last is not None:
        result.seconds = (last - first) / 1e9
