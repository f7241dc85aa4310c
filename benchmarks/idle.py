"""Idle connections: how much server memory each one costs, async and select models
beside a plain asyncio Protocol server (uvloop).

The server starts (RLIMIT_NOFILE raised to its hard limit, inherited from here),
answers one request, and its RSS is read; then N connections are opened and held (a
byte sent on each, so every one has been accepted and has a conversation); RSS is read
again once they all exist.
The figure is (RSS after - RSS before) / N, and a request must still be answered.

    python benchmarks/idle.py [-n 10000]
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import time

import psutil

FLOOR = """
import asyncio, uvloop
class Idle(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.t.write(d)
async def main():
    server = await asyncio.get_running_loop().create_server(Idle, "127.0.0.1", 0, backlog=4096)
    print("floor tcp://127.0.0.1:%d x" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure(command: list[str], n: int) -> tuple[float, bool]:
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)  # inherits the limit main() raised
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1].rsplit(":", 1)[1])
    process = psutil.Process(server.pid)
    held: list[socket.socket] = []
    try:
        with socket.create_connection(("127.0.0.1", port)) as probe:
            probe.sendall(b"warm\n")
            probe.recv(100)
        time.sleep(0.5)
        before = process.memory_info().rss
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"x")
            held.append(sock)
        for sock in held[-100:]:  # the last ones have been accepted and answered
            sock.settimeout(10)
            sock.recv(1)
        time.sleep(1)
        after = process.memory_info().rss
        with socket.create_connection(("127.0.0.1", port), timeout=10) as probe:
            probe.sendall(b"still\n")
            alive = probe.recv(100) == b"still\n"
        return (after - before) / n, alive
    finally:
        for sock in held:
            sock.close()
        server.terminate()
        server.wait()
        server.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args()
    raise_fd_limit()
    print(f"# idle connections: {args.n} held; {' '.join(sys.argv)}; unpinned")
    print(f"{'server':<36} {'bytes of RSS per connection':>28} {'still serving':>14}")
    contenders = [("asyncio Protocol, uvloop (floor)", [sys.executable, "-c", FLOOR])]
    contenders += [(f"hosepipe {m}", [sys.executable, "-m", "hosepipe", "-q", "serve",
                                      "echo@tcp://127.0.0.1:0", "--model", m,
                                      "--max-connections", str(args.n + 100),
                                      "--max-per-client", str(args.n + 100)])
                   for m in ("async", "select")]
    for label, command in contenders:
        per_connection, alive = measure(command, args.n)
        print(f"{label:<36} {per_connection:>28.0f} {alive!s:>14}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
