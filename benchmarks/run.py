"""Small request/reply benchmark: hosepipe's models beside the raw-socket floor and a peer.

One client, 64-byte requests, round trips one at a time, over TCP and a Unix socket.
Each server runs in its own process (forked), the client in this one; both unpinned.
Every figure is the median of RUNS runs of ROUND_TRIPS round trips, with min and max,
and the ratio to the raw blocking-socket ping-pong over the same transport (the floor).

    make bench                 # or: python benchmarks/run.py --runs 5 --round-trips 5000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Client as MpClient
from multiprocessing.connection import Listener as MpListener
from typing import Any

from hosepipe import Binding, Client, Limits, MessageService, Superserver, parse_address

PAYLOAD = b"x" * 64


class Ping(MessageService):
    """Answers each request with itself."""

    name = "ping"

    def handle(self, request: Any) -> Any:
        return request


# -- servers (each runs in a child process and reports its address on a queue) ---------

def hosepipe_server(address: str, model: str, ready: Any) -> None:
    server = Superserver([Binding(service=Ping(), address=parse_address(address),
                                  model=model, limits=Limits(grace=0.5))])
    server.open()
    ready.put(server.bindings[0].bound)
    server.run()


def raw_server(address: str, _model: str, ready: Any) -> None:
    listener = _raw_listener(address)
    ready.put(address if address.startswith("unix") else f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    while True:
        conn, _ = listener.accept()
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)


def _raw_listener(address: str) -> socket.socket:
    if address.startswith("unix://"):
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(address[7:])
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def mp_server(address: str, _model: str, ready: Any) -> None:
    where: Any = address[7:] if address.startswith("unix://") else ("127.0.0.1", 0)
    with MpListener(where) as listener:
        bound = listener.address
        ready.put(f"unix://{bound}" if isinstance(bound, str) else f"tcp://127.0.0.1:{bound[1]}")
        while True:
            with listener.accept() as conn:
                try:
                    while True:
                        conn.send_bytes(conn.recv_bytes())
                except EOFError:
                    pass


# -- clients: each returns the seconds taken by n round trips ---------------------------

def raw_client(address: str, n: int) -> float:
    if address.startswith("unix://"):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(address[7:])
    else:
        host, port = address[6:].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with sock:
        started = time.perf_counter()
        for _ in range(n):
            sock.sendall(PAYLOAD)
            got = 0
            while got < len(PAYLOAD):
                got += len(sock.recv(65536))
        return time.perf_counter() - started


def mp_client(address: str, n: int) -> float:
    where: Any = address[7:] if address.startswith("unix://") else (
        "127.0.0.1", int(address.rsplit(":", 1)[1]))
    with MpClient(where) as conn:
        started = time.perf_counter()
        for _ in range(n):
            conn.send_bytes(PAYLOAD)
            conn.recv_bytes()
        return time.perf_counter() - started


def hosepipe_client(address: str, n: int) -> float:
    with Client(address) as client:
        started = time.perf_counter()
        for _ in range(n):
            client.request(PAYLOAD)
        return time.perf_counter() - started


Contender = tuple[str, Callable[..., None], Callable[[str, int], float], str]

CONTENDERS: list[Contender] = [
    ("raw socket (floor)", raw_server, raw_client, "-"),
    ("multiprocessing.connection", mp_server, mp_client, "-"),
    *[(f"hosepipe {m}", hosepipe_server, hosepipe_client, m)
      for m in ("iterative", "thread", "fork", "select", "async")],
]


def measure(contender: Contender, address: str, runs: int, n: int) -> list[float]:
    _name, server, client, model = contender
    ready: Any = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(
        target=server, args=(address, model, ready), daemon=True)
    process.start()
    try:
        bound = ready.get(timeout=20)
        client(bound, max(1, n // 10))  # warm-up
        return [n / client(bound, n) for _ in range(runs)]
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=3000)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()} {machine}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, client and servers unpinned")
    print(f"# {' '.join(sys.argv)}: median of {args.runs} runs x {args.round_trips} round trips")
    with tempfile.TemporaryDirectory() as directory:
        for transport in ("tcp", "unix"):
            print(f"\n{transport:<5} {'contender':<28} {'req/s':>9} {'min':>9} {'max':>9} "
                  f"{'x floor':>8}")
            floor = None
            for index, contender in enumerate(CONTENDERS):
                address = ("tcp://127.0.0.1:0" if transport == "tcp"
                           else f"unix://{directory}/{transport}{index}.sock")
                rates = measure(contender, address, args.runs, args.round_trips)
                median = statistics.median(rates)
                floor = floor or median
                print(f"{'':<5} {contender[0]:<28} {median:>9.0f} {min(rates):>9.0f} "
                      f"{max(rates):>9.0f} {median / floor:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
