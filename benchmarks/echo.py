"""Echo over 32 connections: every hosepipe model beside a plain asyncio Protocol server
on uvloop (the floor) and an asyncio streams server.

Each server runs in its own process; the load generator (asyncio + uvloop, 32
connections, each sending a message and awaiting all of its echo before the next) runs
in this one. Run twice: unpinned, and pinned (server on CPU 0, client on CPU 1, with
``taskset`` / ``sched_setaffinity``). Figures: round trips per second, median of RUNS
runs of SECONDS each, and the ratio to the floor. The iterative model serves one client
at a time, so it is not run with 32. The ``--workers 2`` rows pre-fork two processes on
one listening socket; pinned, ``taskset`` holds both on CPU 0, so only the unpinned
figure says whether a second core helps.

    python benchmarks/echo.py [--runs 3] [--seconds 2] [--sizes 100,1024,10240,102400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import uvloop

FLOOR = """
import asyncio, sys, uvloop
class Echo(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.t.write(d)
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print("floor tcp://127.0.0.1:%d x" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""

STREAMS = """
import asyncio, sys, uvloop
async def echo(reader, writer):
    while data := await reader.read(262144):
        writer.write(data)
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    print("streams tcp://127.0.0.1:%d x" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""

CONNECTIONS = 32


def start(command: list[str], pinned: bool) -> tuple[subprocess.Popen[str], int]:
    if pinned:
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    return process, int(process.stdout.readline().split()[1].rsplit(":", 1)[1])


async def load(port: int, size: int, seconds: float) -> float:
    message = os.urandom(size)
    done = 0
    stop_at = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            writer.write(message)
            await reader.readexactly(size)
            done += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", default="100,1024,10240,102400")
    parser.add_argument("--unpinned-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    servers = [("asyncio Protocol, uvloop (floor)", [sys.executable, "-c", FLOOR]),
               ("asyncio streams, uvloop", [sys.executable, "-c", STREAMS])]
    servers += [(f"hosepipe {m}", [sys.executable, "-m", "hosepipe", "-q", "serve",
                                   "echo@tcp://127.0.0.1:0", "--model", m])
                for m in ("thread", "fork", "select", "async")]
    servers += [(f"hosepipe {m}, --workers 2", [sys.executable, "-m", "hosepipe", "-q", "serve",
                                                "echo@tcp://127.0.0.1:0", "--model", m,
                                                "--workers", "2"])
                for m in ("select", "async")]
    print(f"# echo, {CONNECTIONS} connections; median of {args.runs} x {args.seconds} s; "
          f"{' '.join(sys.argv)}")
    for pinned in (False,) if args.unpinned_only else (False, True):
        if pinned:
            os.sched_setaffinity(0, {1})
        print(f"\n## {'pinned: server CPU 0, client CPU 1' if pinned else 'unpinned'}")
        print(f"{'server':<34}" + "".join(f"{f'{s} B/s':>14}{'x':>6}" for s in sizes))
        floors: dict[int, float] = {}
        for label, command in servers:
            process, port = start(command, pinned)
            row = f"{label:<34}"
            try:
                for size in sizes:
                    rates = [uvloop.run(load(port, size, args.seconds)) for _ in range(args.runs)]
                    median = statistics.median(rates)
                    floors.setdefault(size, median)
                    row += f"{median:>14.0f}{median / floors[size]:>6.2f}"
            finally:
                process.terminate()
                process.wait()
                assert process.stdout is not None
                process.stdout.close()
            print(row, flush=True)
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
