"""FIFOs and serial lines: hosepipe beside the raw loops a user would write by hand.

1. fifo://, 64-byte request/reply, one client: a raw ``os.open``/``os.read``/``os.write``
   ping-pong over two FIFOs (the floor) beside hosepipe's echo served on ``fifo://``
   (the client's stream from ``connect_stream``: registration done once, then 64 B out,
   64 B back) under the thread and select models, and the whole message stack
   (``Client`` against a message service).
2. Serial, 64-byte echo over a pseudo-terminal pair. Server side: the far end (the
   pty master, raw ``os.read``/``os.write``) calls a raw pySerial loop on the slave (the
   floor) and hosepipe's echo served on ``serial://`` the slave. Client side: a raw
   pySerial client on the slave beside hosepipe's ``serial://`` stream, the master
   echoing with raw ``os.read``/``os.write``.

Servers run in forked processes, clients in this one; each figure is the median of
RUNS runs (the contenders of a table take turns), with min and max, and the ratio to
the first row of its table; ``--pinned``
puts servers on CPU 0 and clients on CPU 1.

    make bench      # or: python benchmarks/wires.py --runs 5 --round-trips 3000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import serial

from hosepipe import Binding, Client, Limits, MessageService, Superserver
from hosepipe.services import BUILTINS
from hosepipe.transports.connect import connect_stream

PAYLOAD = b"x" * 64
PINNED = False  # servers on CPU 0, clients on CPU 1 (--pinned)
Run = Callable[[int], float]


class Ping(MessageService):
    """Answers each request with itself."""

    name = "ping"

    def handle(self, request: Any) -> Any:
        return request


@contextmanager
def child(target: Callable[..., None], *args: Any) -> Iterator[Any]:
    """``target(*args, ready)`` in a forked process; yields what it puts on ``ready``."""
    context = multiprocessing.get_context("fork")
    ready: Any = context.Queue()
    process = context.Process(target=_pinned, args=(target, *args, ready), daemon=True)
    process.start()
    try:
        yield ready.get(timeout=20)
    finally:
        os.kill(process.pid or 0, signal.SIGTERM)
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


def _pinned(target: Callable[..., None], *args: Any) -> None:
    if PINNED:
        os.sched_setaffinity(0, {0})
    target(*args)


def serve(service: Any, address: str, model: str, ready: Any) -> None:
    server = Superserver([Binding(service=service, address=address, model=model,
                                  limits=Limits(grace=0.2))])
    server.open()
    ready.put(server.addresses[0])
    server.run()


def round_trips(send: Callable[[bytes], object], receive: Callable[[], bytes], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        send(PAYLOAD)
        got = 0
        while got < len(PAYLOAD):
            got += len(receive())
    return time.perf_counter() - started


# -- FIFOs --------------------------------------------------------------------------------
def _raw_fifo_echo(up: str, down: str, ready: Any) -> None:
    ready.put("ready")
    reading = os.open(up, os.O_RDONLY)  # waits for the client, as a FIFO does
    writing = os.open(down, os.O_WRONLY)
    while data := os.read(reading, 65536):
        os.write(writing, data)


def fifo_floor(n: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        up, down = os.path.join(directory, "up"), os.path.join(directory, "down")
        os.mkfifo(up)
        os.mkfifo(down)
        with child(_raw_fifo_echo, up, down):
            writing = os.open(up, os.O_WRONLY)
            reading = os.open(down, os.O_RDONLY)
            try:
                return round_trips(lambda d: os.write(writing, d),
                                   lambda: os.read(reading, 65536), n)
            finally:
                os.close(writing)
                os.close(reading)


def fifo_stream(model: str) -> Run:
    def run(n: int) -> float:
        with tempfile.TemporaryDirectory() as directory:
            echo = f"fifo://{directory}/echo"
            with child(serve, BUILTINS["echo"](), echo, model) as address, \
                    connect_stream(address) as stream:
                return round_trips(lambda d: stream.send_all(d, 10),
                                   lambda: stream.receive_some(10), n)

    return run


def fifo_client(n: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        ping = f"fifo://{directory}/ping"
        with child(serve, Ping(), ping, "thread") as address, Client(address) as client:
            started = time.perf_counter()
            for _ in range(n):
                client.request(PAYLOAD)
            return time.perf_counter() - started


# -- serial lines over a pty pair ---------------------------------------------------------
def _pyserial_echo(device: str, ready: Any) -> None:
    port = serial.Serial(device, timeout=None)
    ready.put("ready")
    while True:
        port.write(port.read(port.in_waiting or 1))


def _master_echo(master: int, ready: Any) -> None:
    ready.put("ready")
    while data := os.read(master, 65536):
        os.write(master, data)


@contextmanager
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


def _from_master(server: Callable[..., Any], *args: Any) -> Run:
    def run(n: int) -> float:
        with pty() as (master, device), child(server, *args, device):
            return round_trips(lambda d: os.write(master, d),
                               lambda: os.read(master, 65536), n)

    return run


def serial_server_floor(n: int) -> float:
    return _from_master(_pyserial_echo)(n)


def serial_server_hosepipe(model: str) -> Run:
    def serve_device(device: str, ready: Any) -> None:
        serve(BUILTINS["echo"](), f"serial://{device}", model, ready)

    return _from_master(serve_device)


def serial_client_floor(n: int) -> float:
    with pty() as (master, device), child(_master_echo, master):
        port = serial.Serial(device, timeout=None)
        try:
            return round_trips(port.write, lambda: port.read(port.in_waiting or 1), n)
        finally:
            port.close()


def serial_client_hosepipe(n: int) -> float:
    with pty() as (master, device), child(_master_echo, master), connect_stream(
            f"serial://{device}") as stream:
        return round_trips(lambda d: stream.send_all(d, 10),
                           lambda: stream.receive_some(10), n)


def table(title: str, runs: int, n: int, contenders: list[tuple[str, Run]]) -> None:
    """Runs take turns (floor, hosepipe, floor, ...): a shared machine's load changes
    then weigh on every contender alike."""
    print(f"\n{title}: {n} round trips each, median of {runs}, contenders taking turns")
    print(f"      {'contender':<44} {'trips/s':>9} {'min':>9} {'max':>9} {'x first':>8}")
    for _, run in contenders:
        run(max(1, n // 10))  # warm-up
    rates: list[list[float]] = [[] for _ in contenders]
    for _ in range(runs):
        for index, (_, run) in enumerate(contenders):
            rates[index].append(n / run(n))
    first = statistics.median(rates[0])
    for (label, _), figures in zip(contenders, rates, strict=True):
        median = statistics.median(figures)
        print(f"      {label:<44} {median:>9.0f} {min(figures):>9.0f} {max(figures):>9.0f} "
              f"{median / first:>8.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--pinned", action="store_true",
                        help="servers on CPU 0, clients on CPU 1 (as taskset -c would)")
    args = parser.parse_args()
    global PINNED
    PINNED = args.pinned and (os.cpu_count() or 1) >= 2
    if PINNED:
        os.sched_setaffinity(0, {1})
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, pySerial {serial.__version__}")
    print(f"# {' '.join(sys.argv)}" + (": servers on CPU 0, clients on CPU 1" if PINNED
                                       else ": unpinned"))
    table("fifo://, 64 B", args.runs, args.round_trips, [
        ("raw os.read/os.write over two FIFOs (floor)", fifo_floor),
        ("hosepipe echo, thread model, stream", fifo_stream("thread")),
        ("hosepipe echo, select model, stream", fifo_stream("select")),
        ("hosepipe Client, message service, thread", fifo_client),
    ])
    table("serial server on a pty, 64 B (client: the master)", args.runs, args.round_trips, [
        ("raw pySerial read/write loop (floor)", serial_server_floor),
        ("hosepipe echo@serial://, thread model", serial_server_hosepipe("thread")),
        ("hosepipe echo@serial://, select model", serial_server_hosepipe("select")),
    ])
    table("serial client on a pty, 64 B (server: the master)", args.runs, args.round_trips, [
        ("raw pySerial client (floor)", serial_client_floor),
        ("hosepipe serial:// stream", serial_client_hosepipe),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
