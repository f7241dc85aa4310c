"""Costs that do not depend on the host's speed: Python heap per idle connection
(tracemalloc) and Python calls per request (every call the server makes, on every
thread, counted with a profile hook).

Wall-clock benchmarks on a shared two-CPU machine move by half between runs; these two
figures repeat to a few per cent, so a change to the core can be compared with an older
tree in one sitting (run the same command with ``PYTHONPATH=OLD_TREE/src``):

    python benchmarks/costs.py [--connections 2000] [--lines 5000]

The idle figure holds echo connections (one byte echoed on each) in-process under the
select and async models; the calls figure runs ``hosepipe serve echo`` with a profile
hook on every thread and sends lines one at a time on one connection.
"""

from __future__ import annotations

import argparse
import gc
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from pathlib import Path

from hosepipe import Binding, Limits, Superserver, parse_address
from hosepipe.services import make_service


def idle_bytes(model: str, n: int) -> float:
    """Python heap per idle echo connection under ``model``, in bytes."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = Superserver([Binding(service=make_service("echo"),
                                  address=parse_address("tcp://127.0.0.1:0"), model=model,
                                  limits=Limits(max_per_client=n + 100,
                                                max_connections=n + 100))])
    opened = server.open()
    # 010add9's Superserver has no ``addresses``: its open() returns the bindings
    address = (server.addresses[0] if hasattr(server, "addresses")
               else str(opened[0].bound))  # type: ignore[index]
    port = int(address.rsplit(":", 1)[1])
    threading.Thread(target=server.run, daemon=True).start()

    def connect() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"x")
        sock.settimeout(30)
        if sock.recv(1) != b"x":
            raise RuntimeError("the echo did not come back")
        return sock

    warm = [connect() for _ in range(50)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [connect() for _ in range(n)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # everything allocated meanwhile: the server's side, and the client's socket
    # objects (88 B each, the same in any tree)
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    for sock in warm + held:
        sock.close()
    server.shutdown()
    return grown / n


def calls_per_line(model: str, lines: int) -> float:
    """Python calls the server makes per echoed line (all threads; one connection): the
    calls of a run with ``lines`` lines less those of a run with none, over ``lines``."""
    return (_server_calls(model, lines) - _server_calls(model, 0)) / lines


# Python and built-in calls on every thread of the server, as cProfile counts them
# (cProfile itself sees only the thread that started it, and the iterative and thread
# models serve on threads of their own). Written to argv[1] at exit.
_COUNT_CALLS = """
import atexit, runpy, sys, threading
calls = [0]
def count(frame, event, arg):
    if event == "call" or event == "c_call":
        calls[0] += 1
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(str(calls[0])))
sys.argv[0] = "hosepipe"
sys.setprofile(count)
threading.setprofile(count)
runpy.run_module("hosepipe", run_name="__main__", alter_sys=True)
"""


def _server_calls(model: str, lines: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "calls"
        server = subprocess.Popen(
            [sys.executable, "-c", _COUNT_CALLS, str(out), "-q",
             "serve", "echo@tcp://127.0.0.1:0", "--model", model],
            stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        host, port = server.stdout.readline().split()[1][6:].rsplit(":", 1)
        echo_lines(host, int(port), lines + 1)  # one to start with, in either run
        server.terminate()
        server.wait(30)
        server.stdout.close()
        return int(out.read_text())


def echo_lines(host: str, port: int, count: int, timeout: float = 30.0) -> None:
    """Send ``count`` lines on one connection, one at a time, each echo read whole (a
    reply may come in pieces)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for i in range(count):
            line = b"ping %d\n" % i
            sock.sendall(line)
            got = b""
            while len(got) < len(line):
                more = sock.recv(100)
                if not more:
                    raise RuntimeError("the server closed the connection")
                got += more


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    print(f"# costs; benchmarks/costs.py --connections {args.connections} "
          f"--lines {args.lines}")
    print(f"{'model':<10}{'heap B per idle connection':>28}{'calls per line':>16}")
    for model in ("select", "async"):
        heap = idle_bytes(model, args.connections)
        calls = calls_per_line(model, args.lines)
        print(f"{model:<10}{heap:>28.0f}{calls:>16.1f}")
    for model in ("iterative",):
        print(f"{model:<10}{'':>28}{calls_per_line(model, args.lines):>16.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
