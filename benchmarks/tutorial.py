"""The squares tutorial's own client against its own server and against hosepipe.

Issue #10, item 4: a client that sends one bare message per ``send()`` and waits for one
``recv()`` (the tutorial's: a greeting, then numbers, no newlines) must get its answers
at once, not after hosepipe's ``pause``. The goal: that client's whole run within 2x of
the tutorial server's own time, under every model.

The client here is the tutorial's, written out: ``send(b"Hi there!")``, one ``recv``,
then per number one ``send`` and one ``recv``. The tutorial server is written out too:
one ``recv(1024)`` taken as the greeting, ``Hello. Nice to see you.`` back, then every
``recv(1024)`` squared. hosepipe serves ``square`` under each model. Every server runs
in its own process; each run is a fresh connection; the figure is the median seconds
per run (greeting + NUMBERS numbers) and its ratio to the tutorial server's.

    python benchmarks/tutorial.py --runs 20 --numbers 100
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
from typing import Any

from hosepipe import Binding, Limits, Superserver, parse_address
from hosepipe.services import make_service

MODELS = ("iterative", "thread", "fork", "select", "async")


def tutorial_server(ready: Any) -> None:
    """The tutorial's squares server, one connection after another."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    ready.put(listener.getsockname()[1])
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)  # the greeting
            conn.send(b"Hello. Nice to see you.")
            while data := conn.recv(1024):
                conn.send(str(int(data) ** 2).encode())


def hosepipe_server(model: str, ready: Any) -> None:
    binding = Binding(service=make_service("square"), model=model, limits=Limits(grace=0.5),
                      address=parse_address("tcp://127.0.0.1:0"))
    server = Superserver([binding])
    server.open()
    ready.put(int(server.addresses[0].rsplit(":", 1)[1]))
    server.run()


def one_run(port: int, numbers: int) -> float:
    """The tutorial client's whole conversation; seconds, replies checked."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.send(b"Hi there!")
        greeting = sock.recv(1024)
        for n in range(1, numbers + 1):
            sock.send(str(n).encode())
            reply = sock.recv(1024)
            if reply != str(n * n).encode():
                raise AssertionError(f"{n}: got {reply!r}")
    if greeting != b"Hello. Nice to see you.":
        raise AssertionError(f"greeting: {greeting!r}")
    return time.perf_counter() - started


def measure(target: Any, args: tuple[Any, ...], runs: int, numbers: int) -> list[float]:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, ready), daemon=True)
    process.start()
    try:
        port = ready.get(timeout=30)
        one_run(port, numbers)  # warm up: imports, first accept
        return [one_run(port, numbers) for _ in range(runs)]
    finally:
        process.terminate()
        process.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--numbers", type=int, default=100)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"# benchmarks/tutorial.py --runs {args.runs} --numbers {args.numbers}: the "
          f"tutorial's squares client, greeting + {args.numbers} numbers per run; unpinned")
    rows = [("tutorial server", measure(tutorial_server, (), args.runs, args.numbers))]
    for model in MODELS:
        rows.append((f"hosepipe {model}",
                     measure(hosepipe_server, (model,), args.runs, args.numbers)))
    floor = statistics.median(rows[0][1])
    print(f"{'server':<20} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ratio':>7}")
    worst = 0.0
    for name, times in rows:
        median = statistics.median(times)
        worst = max(worst, median / floor)
        print(f"{name:<20} {median * 1e3:>10.2f} {min(times) * 1e3:>8.2f} "
              f"{max(times) * 1e3:>8.2f} {median / floor:>6.2f}x")
    print(f"# worst ratio {worst:.2f}x (goal: at most 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
