"""``hosepipe bench``'s own overhead: the echo throughput it measures, beside the floor
load generator of ``benchmarks/echo.py``, against the same server in the same run.

The server is echo.py's floor (an asyncio Protocol echo server on uvloop, in its own
process). The floor client is echo.py's ``load``: 32 connections on one uvloop, each
sending a message and awaiting all of its echo before the next. ``hosepipe bench``
runs the same 32 clients (on its default workers: forked processes, one per CPU, each
an event loop; or threads) for the same time with messages of the same size, and
reports its own throughput. The figure is round
trips per second, median of RUNS (run in turn, so the host's swings fall on all
alike); the ratio to the floor client says how much of the server's capacity the
bench's clients leave unmeasured (goal: at least 0.9).

    python benchmarks/bench_tool.py [--runs 3] [--seconds 3] [--sizes 100,1024]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import uvloop
from echo import CONNECTIONS, FLOOR, load, start


def hosepipe_bench(port: int, size: int, seconds: float, *extra: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "hosepipe", "bench", f"tcp://127.0.0.1:{port}",
         "-c", str(CONNECTIONS), "-d", str(seconds), "--size", str(size), "--json", *extra],
        check=True, capture_output=True, text=True).stdout
    (run,) = json.loads(out)
    assert run["errors"] == 0, run
    return float(run["throughput"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sizes", default="100,1024")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    contenders = [
        ("echo.py load, uvloop (floor)", lambda p, s: uvloop.run(load(p, s, args.seconds))),
        ("hosepipe bench (processes)", lambda p, s: hosepipe_bench(p, s, args.seconds)),
        ("hosepipe bench --threads", lambda p, s: hosepipe_bench(p, s, args.seconds,
                                                                 "--threads")),
    ]
    print(f"# bench overhead: echo, {CONNECTIONS} connections, against echo.py's floor "
          f"server; median of {args.runs} x {args.seconds} s; {' '.join(sys.argv)}")
    print(f"{'client':<32}" + "".join(f"{f'{s} B/s':>14}{'x':>6}" for s in sizes))
    server, port = start([sys.executable, "-c", FLOOR], pinned=False)
    rates: dict[tuple[str, int], list[float]] = {}
    try:  # interleaved, run by run: a host that slows down mid-way slows everyone alike
        for _ in range(args.runs):
            for size in sizes:
                for label, run in contenders:
                    rates.setdefault((label, size), []).append(run(port, size))
    finally:
        server.terminate()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()
    for label, _ in contenders:
        row = f"{label:<32}"
        for size in sizes:
            median = statistics.median(rates[label, size])
            floor = statistics.median(rates[contenders[0][0], size])
            row += f"{median:>14.0f}{median / floor:>6.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
