"""``hosepipe bench ADDRESS``: many clients at once, latency in an HDR histogram.

:func:`bench` starts ``clients`` workers (:mod:`hosepipe.tools.crew`), each with its own
connection and :class:`~hosepipe.tools.workload.Workload`. They connect, wait for the
starting gun, then run requests until their share of ``requests`` is done, ``duration``
has passed, or the stop flag is raised, recording each latency in microseconds in their
own histogram (``hdrhistogram``); the parent merges them.

Closed loop (the default): each client sends its next request as soon as the last reply
is in; latency is from send to reply, and for a client's first request from the
starting gun (so its opening, and any wait to be served at all, as under the iterative
model, is latency too). Open loop (``rate``): each client sends on a fixed
schedule (``rate / clients`` per second) and latency is measured from the *intended*
send time, not the actual one. A server that stalls for a second then shows a second of
latency on every request that should have been sent during the stall, as wrk2 does;
measured from the actual send, the stall would hide behind a single slow request
("coordinated omission").

A request that fails (refused, wrong reply, timeout) is counted as an error and the
client reconnects; a client that cannot reconnect ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hdrh.histogram import HdrHistogram

from hosepipe.address import parse_address
from hosepipe.errors import ConnectError, HosepipeError, UsageError
from hosepipe.tools.crew import Board, Crew, ProcessCrew, ThreadCrew
from hosepipe.tools.workload import Workload, check_workload, open_workload

__all__ = ["PERCENTILES", "BenchOptions", "BenchResult", "bench", "new_histogram"]

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
HIGHEST_US = 3_600_000_000  # an hour: the histogram's range is 1 us to this
MAX_ERROR_SAMPLES = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_US, 3)


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


@dataclass
class _Client:
    """One worker's loop; runs in the worker process or thread."""

    address: str
    options: BenchOptions
    quota: int | None  # requests for this client
    interval_ns: int | None  # open loop: between intended sends
    errors: list[str] = field(default_factory=list)

    def __call__(self, index: int, board: Board) -> dict[str, Any]:
        try:
            workload = self._connect()
        except Exception as exc:  # reported as this client's failure
            board.set_state(index, Board.FAILED)
            return {"connect_error": str(exc)}
        board.set_state(index, Board.CONNECTED)
        if not board.go.wait(self.options.timeout + 30):
            workload.close()
            return {"connect_error": "never started"}
        return self._run(workload, index, board)

    def _connect(self) -> Workload:
        o = self.options
        return open_workload(self.address, o.service, size=o.size, payload=o.payload,
                             codec=o.codec, timeout=o.timeout)

    def _run(self, workload: Workload, index: int, board: Board) -> dict[str, Any]:
        histogram, done, failed = new_histogram(), 0, 0
        clock, record = time.perf_counter_ns, histogram.record_value
        pace = _Pace(clock(), self.interval_ns)
        stop_at = pace.started + int((self.options.duration or 0) * 1e9)
        live: Workload | None = self._started(workload)
        while live is not None and not board.stopping and (
                done + failed < self.quota if self.quota is not None else clock() < stop_at):
            sent = pace.send_time(clock())
            try:
                live.request()
            except (HosepipeError, OSError) as exc:
                failed += 1
                live = self._failed(live, exc)
                continue
            record(max(1, (clock() - sent) // 1000))
            done += 1
            board.done(index, done)
        if live is None:
            failed += 1  # the opening, or a reconnection, failed: this client ends
        else:
            live.close()
        return {"histogram": histogram.encode(), "requests": done, "errors": failed,
                "started": pace.started, "ended": clock(), "error_samples": self.errors}

    def _started(self, workload: Workload) -> Workload | None:
        """``workload`` after its opening; None (and an error noted) if that failed."""
        try:
            workload.start()
        except (HosepipeError, OSError) as exc:
            self._note(exc)
            workload.close()
            return None
        return workload

    def _failed(self, workload: Workload, exc: BaseException) -> Workload | None:
        """After a failed request: a new connection, or None if that fails too."""
        self._note(exc)
        workload.close()
        try:
            return self._started(self._connect())
        except (HosepipeError, OSError) as again:
            self._note(again)
            return None

    def _note(self, exc: BaseException) -> None:
        if len(self.errors) < MAX_ERROR_SAMPLES:
            self.errors.append(f"{type(exc).__name__}: {exc}")


class _Pace:
    """When each request counts from. Closed loop: when it is sent, except the first,
    which counts from the gun (the opening, and any wait to be served, included). Open
    loop: its slot in a fixed schedule, waited for if early, not moved if late."""

    def __init__(self, started: int, interval_ns: int | None) -> None:
        self.started = self.slot = started
        self.interval_ns = interval_ns
        self.first = True

    def send_time(self, now: int) -> int:
        if self.interval_ns is None:
            sent = self.started if self.first else now
        else:
            if now < self.slot:
                time.sleep((self.slot - now) / 1e9)
            sent, self.slot = self.slot, self.slot + self.interval_ns
        self.first = False
        return sent


def _shares(total: int | None, count: int) -> list[int | None]:
    if total is None:
        return [None] * count
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


def _start(address: str, options: BenchOptions) -> Crew:
    interval = None if options.rate is None else int(1e9 * options.clients / options.rate)
    quotas = _shares(options.requests, options.clients)
    duration = options.duration if options.requests is None else None
    if options.requests is None and duration is None:
        duration = 5.0
    clients = [_Client(address, replace(options, duration=duration), quotas[i], interval)
               for i in range(options.clients)]
    crew_type = ThreadCrew if options.threads else ProcessCrew
    return crew_type(options.clients, lambda index, board: clients[index](index, board))


Progress = Callable[[int], None]  # requests done so far


def bench(address: str, options: BenchOptions | None = None, *, label: str | None = None,
          progress: Progress | None = None) -> BenchResult:
    """Run the bench against ``address``. Ctrl-C ends it early: the result holds what
    was measured until then, with ``interrupted`` set."""
    options = options or BenchOptions()
    options.check()
    if parse_address(address).is_datagram:
        raise UsageError("bench measures stream services; use tcp://, tls://, unix:// or exec:")
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
