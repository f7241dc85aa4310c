"""CPU instructions a server spends per request, counted by valgrind's callgrind.

Instructions, not seconds: the count repeats to a few per cent whatever else the machine
is doing, so the core can be compared with an older tree, or with a plain socket server,
on a busy host. Each server runs under ``valgrind --tool=callgrind`` (at ``nice 19``)
twice, answering one request and then ``1 + N``; the difference over N is its cost per
request, start-up and shutdown excluded. The client runs outside valgrind.

Workloads: ``echo`` (a line, echoed; beside a plain blocking-socket echo server, the
floor) and ``ping`` (a 64-byte framed msgpack request and its reply, as
``benchmarks/run.py`` measures it). Forked children are counted too (valgrind follows a
fork), so the fork model's figure includes its child.

    python benchmarks/instructions.py [--requests 1000] [--models thread,select]
    PYTHONPATH=/path/to/old/src python benchmarks/instructions.py   # an older tree

Slow: each server answers at about a fiftieth of its speed under valgrind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from costs import echo_lines
from run import PAYLOAD

from hosepipe import Client

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("iterative", "thread", "fork", "select", "async")

# the floor: a plain blocking echo server, one connection, as a tutorial writes it
FLOOR = """
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print("echo tcp://127.0.0.1:%d" % server.getsockname()[1], flush=True)
conn, _ = server.accept()
while data := conn.recv(65536):
    conn.sendall(data)
"""


def _server(argv: list[str], out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0",  # the same dict layouts every run
           "PYTHONPATH": os.pathsep.join(
               p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p)}
    return subprocess.Popen(
        ["nice", "-n", "19", "valgrind", "--tool=callgrind", "--quiet",
         f"--callgrind-out-file={out}/callgrind.%p", sys.executable, *argv],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


def _instructions(argv: list[str], workload: str, requests: int) -> int:
    """Instructions the server (and its forked children) ran to answer ``requests``."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory)
        server = _server(argv, out)
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            if not line:
                raise RuntimeError(f"the server did not start: {' '.join(argv)}")
            host, port = line.split()[1].split("://")[1].rsplit(":", 1)
            if workload == "echo":
                echo_lines(host, int(port), requests, timeout=300)
            else:
                with Client(f"tcp://{host}:{port}", timeout=300) as client:
                    for _ in range(requests):
                        client.request(PAYLOAD)
        finally:
            server.terminate()
            server.wait(600)
            if server.stdout is not None:
                server.stdout.close()
        return sum(_total(path) for path in out.glob("callgrind.*"))


def _total(path: Path) -> int:
    with path.open() as lines:
        for line in lines:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return 0


def per_request(argv: list[str], workload: str, requests: int) -> float:
    return (_instructions(argv, workload, 1 + requests)
            - _instructions(argv, workload, 1)) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated (default: all five)")
    parser.add_argument("--workloads", default="echo,ping")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    models = [m for m in args.models.split(",") if m]
    import hosepipe  # noqa: PLC0415 - only to say which tree is measured

    print(f"# instructions per request, server side; benchmarks/instructions.py "
          f"--requests {args.requests}; hosepipe from {Path(hosepipe.__file__).parent}")
    print(f"{'server':32} {'workload':8} {'instructions':>12} {'ratio':>6}")
    for workload in args.workloads.split(","):
        floor = None
        if workload == "echo":
            floor = per_request(["-c", FLOOR], "echo", args.requests)
            print(f"{'plain socket server (floor)':32} {workload:8} {floor:12,.0f} {1:6.2f}")
        for model in models:
            spec = ("echo@tcp://127.0.0.1:0" if workload == "echo"
                    else "benchmarks.run:Ping@tcp://127.0.0.1:0")
            count = per_request(["-m", "hosepipe", "-q", "serve", spec, "--model", model],
                                workload, args.requests)
            ratio = f"{count / floor:6.2f}" if floor else "     -"
            print(f"{'hosepipe ' + model:32} {workload:8} {count:12,.0f} {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
