"""Where a small request/reply spends its time: CPU per round trip, layer by layer.

The request/reply goal is measured against a raw socket ping-pong that carries bytes
and nothing else. This splits hosepipe's distance from it into the wire protocol itself
and hosepipe's layers around it, with four contenders beside the floor:

* **minimal client / minimal server**: the hosepipe wire protocol (the codec hello, then
  4-byte frames of msgpack, replies in ``{"ok": ...}``) written inline in a few lines of
  Python per side: the cost of the protocol, with no library around it;
* the same minimal server with hosepipe's ``Client``: the cost of the client's layers;
* the minimal client against a hosepipe server (iterative model): the server's layers;
* ``Client`` against a hosepipe server: the whole path, as ``benchmarks/run.py`` has it.

For each: wall time per round trip, and the CPU time each side spent per round trip
(the client's ``time.process_time``; the server's from ``/proc/PID/stat``), median of
RUNS runs of N round trips over TCP, unpinned. Linux only (``/proc``).

    python benchmarks/anatomy.py [--runs 5] [-n 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import PAYLOAD, Ping, hosepipe_client, hosepipe_server, raw_client, raw_server

from hosepipe.wire import hello

HEADER = struct.Struct("!i")
TICK = os.sysconf("SC_CLK_TCK")


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def _read_frame(sock: socket.socket, pending: bytearray) -> bytes | None:
    if not pending:  # the usual case: one receive, exactly one frame
        chunk = sock.recv(65536)
        if len(chunk) >= 4 and HEADER.unpack_from(chunk)[0] == len(chunk) - 4:
            return chunk[4:]
        if not chunk:
            return None
        pending += chunk
    while len(pending) < 4 or len(pending) < 4 + HEADER.unpack_from(pending)[0]:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        pending += chunk
    size = HEADER.unpack_from(pending)[0]
    payload = bytes(pending[4 : 4 + size])
    del pending[: 4 + size]
    return payload


def minimal_server(_address: str, _model: str, ready: Any) -> None:
    """The protocol inline: answer the hello, then each frame with {"ok": reply}."""
    listener = socket.create_server(("127.0.0.1", 0))
    ready.put(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    handle = Ping().handle
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            pending = bytearray()
            if _read_frame(conn, pending) is None:
                continue
            conn.sendall(_frame(hello.server_reply("msgpack")))
            while (payload := _read_frame(conn, pending)) is not None:
                reply = msgpack.packb({"ok": handle(msgpack.unpackb(payload))})
                conn.sendall(_frame(reply))


def minimal_client(address: str, n: int) -> float:
    host, port = address[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = bytearray()
        sock.sendall(_frame(hello.client_hello("msgpack")))
        hello.parse_reply(_read_frame(sock, pending) or b"")
        started = time.perf_counter()
        for _ in range(n):
            sock.sendall(_frame(msgpack.packb(PAYLOAD)))
            reply = msgpack.unpackb(_read_frame(sock, pending) or b"")
            assert reply["ok"] == PAYLOAD
        return time.perf_counter() - started


def server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


Server = Callable[[str, str, Any], None]
Client = Callable[[str, int], float]


def measure(server: Server, client: Client, n: int, runs: int) -> tuple[float, float, float]:
    """Median (wall, client CPU, server CPU) per round trip, in microseconds."""
    context = multiprocessing.get_context("fork")
    ready = context.Queue()
    process = context.Process(target=server, args=("tcp://127.0.0.1:0", "iterative", ready),
                              daemon=True)
    process.start()
    try:
        address = ready.get(timeout=30)
        client(address, min(n, 500))  # warm up both ends
        walls, clients, servers = [], [], []
        for _ in range(runs):
            server_before, client_before = server_cpu(process.pid), time.process_time()
            walls.append(client(address, n) / n * 1e6)
            clients.append((time.process_time() - client_before) / n * 1e6)
            servers.append((server_cpu(process.pid) - server_before) / n * 1e6)
        return statistics.median(walls), statistics.median(clients), statistics.median(servers)
    finally:
        process.terminate()
        process.join()


CONTENDERS: list[tuple[str, Server, Client]] = [
    ("raw bytes ping-pong (floor)", raw_server, raw_client),
    ("minimal client, minimal server", minimal_server, minimal_client),
    ("hosepipe Client, minimal server", minimal_server, hosepipe_client),
    ("minimal client, hosepipe server", hosepipe_server, minimal_client),
    ("hosepipe Client, hosepipe server", hosepipe_server, hosepipe_client),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("-n", type=int, default=20_000, help="round trips per run")
    args = parser.parse_args()
    print(f"# request/reply anatomy, 64 B over TCP, unpinned; median of {args.runs} x "
          f"{args.n}; {' '.join(sys.argv)}")
    print(f"{'contender':<34} {'wall us':>8} {'client CPU':>11} {'server CPU':>11} "
          f"{'x floor':>8}")
    floor = None
    for label, server, client in CONTENDERS:
        wall, client_cpu, server_cpu_us = measure(server, client, args.n, args.runs)
        floor = floor or wall
        print(f"{label:<34} {wall:>8.1f} {client_cpu:>11.1f} {server_cpu_us:>11.1f} "
              f"{floor / wall:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
