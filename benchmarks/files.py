"""File transfer over loopback: hosepipe get beside the floor and two well-known peers.

One file (default 1 GiB) served from the page cache and written to a temporary
directory. Contenders, in one run:

* floor: ``socket.sendfile`` sender, ``recv_into`` receiver writing the file;
* hosepipe: ``hosepipe serve files`` (select model) and FilesClient.get, which also
  verifies the SHA-256 of everything it received (the server's hash is cached after the
  first run);
* ``python -m http.server`` with ``curl -o``;
* pyftpdlib (benchmarks/requirements.txt) with ``curl -o ftp://``.

Each figure is the median of RUNS transfers in MiB/s, with the ratio to the floor. The
whole table is measured twice: unpinned, and pinned (every server on CPU 0, every
client on CPU 1); ``--unpinned-only`` skips the second.

    python benchmarks/files.py [--size-mib 1024] [--runs 3] [--unpinned-only]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hosepipe.files.client import FilesClient

CHUNK = 1 << 20


def make_file(path: Path, size: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as file:
        for i in range(size // CHUNK):
            file.write(block[i % 997 :] + block[: i % 997])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def placed(command: list[str], pinned: bool) -> list[str]:
    """``command``, on CPU 0 when pinned."""
    return ["taskset", "-c", "0", *command] if pinned else command


def floor(source: Path, dest: Path, pinned: bool) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sender = os.fork()
    if sender == 0:  # the sending side, in its own process so that it can be placed
        try:
            if pinned:
                os.sched_setaffinity(0, {0})
            conn, _ = listener.accept()
            with conn, open(source, "rb") as file:
                conn.sendfile(file)
        finally:
            os._exit(0)
    listener.close()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(dest, "wb") as out:
        buffer = memoryview(bytearray(CHUNK))
        while n := sock.recv_into(buffer):
            out.write(buffer[:n])
    elapsed = time.perf_counter() - started
    os.waitpid(sender, 0)
    return elapsed


def hosepipe_get(root: Path, name: str, dest: Path, pinned: bool) -> Callable[[], float]:
    server = subprocess.Popen(placed([sys.executable, "-m", "hosepipe", "-q", "serve",
                                      "files@tcp://127.0.0.1:0", "--root", str(root)], pinned),
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    address = server.stdout.readline().split()[1]

    def run() -> float:
        started = time.perf_counter()
        with FilesClient(address) as files:
            files.get(name, dest)
        return time.perf_counter() - started

    run.server = server  # type: ignore[attr-defined]
    return run


def curl(url: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-o", str(dest), url], check=True)
    return time.perf_counter() - started


def compare(source: Path, out: Path, args: argparse.Namespace, pinned: bool) -> None:
    """One table: every contender RUNS times, servers started for this placement."""
    root = source.parent
    http_port, ftp_port = free_port(), free_port()
    peers = [
        subprocess.Popen(placed(command, pinned), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for command in (
            [sys.executable, "-m", "http.server", str(http_port), "-b", "127.0.0.1",
             "-d", str(root)],
            [sys.executable, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", str(ftp_port),
             "-d", str(root)],
        )
    ]
    ours = hosepipe_get(root, source.name, out / "hosepipe.bin", pinned)
    contenders: list[tuple[str, Callable[[], float]]] = [
        ("socket.sendfile -> recv_into (floor)",
         lambda: floor(source, out / "floor.bin", pinned)),
        ("hosepipe get (select, verified)", ours),
        ("http.server + curl", lambda: curl(f"http://127.0.0.1:{http_port}/{source.name}",
                                            out / "http.bin")),
        ("pyftpdlib + curl", lambda: curl(f"ftp://127.0.0.1:{ftp_port}/{source.name}",
                                          out / "ftp.bin")),
    ]
    if pinned:
        os.sched_setaffinity(0, {1})  # this process and the curls it starts: CPU 1
    try:
        wait_port(http_port)
        wait_port(ftp_port)
        ours()  # warm-up: the server hashes the file once and caches the hash
        results = []
        for label, run in contenders:
            rates = [args.size_mib / run() for _ in range(args.runs)]
            results.append((label, rates))
            for leftover in out.iterdir():
                leftover.unlink()
        base = statistics.median(results[0][1])
        print(f"\n## {'pinned: servers on CPU 0, clients on CPU 1' if pinned else 'unpinned'}")
        print(f"{'contender':<40} {'MiB/s':>8} {'min':>8} {'max':>8} {'x floor':>8}")
        for label, rates in results:
            median = statistics.median(rates)
            print(f"{label:<40} {median:>8.0f} {min(rates):>8.0f} {max(rates):>8.0f} "
                  f"{median / base:>8.2f}", flush=True)
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        for process in [*peers, ours.server]:  # type: ignore[attr-defined]
            process.terminate()
            process.wait()
        ours.server.stdout.close()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unpinned-only", action="store_true")
    args = parser.parse_args()
    print(f"# files: {args.size_mib} MiB over loopback, median of {args.runs}; "
          f"{' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "root", Path(tmp) / "out"
        root.mkdir()
        out.mkdir()
        source = root / "big.bin"
        make_file(source, args.size_mib * CHUNK)
        for pinned in (False,) if args.unpinned_only else (False, True):
            compare(source, out, args, pinned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
