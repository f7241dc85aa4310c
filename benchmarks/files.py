"""File transfer over loopback: hosepipe get beside the floor and two well-known peers.

One file (default 1 GiB) served from the page cache and written to a temporary directory
(or discarded with --discard, to measure the network path alone). Contenders, in one run:

* floor: ``socket.sendfile`` sender, ``recv_into`` receiver writing the file;
* hosepipe: ``hosepipe serve files`` (select model) and FilesClient.get, which also
  verifies the SHA-256 of everything it received (the server's hash is cached after the
  first run);
* ``python -m http.server`` with ``curl -o``;
* pyftpdlib (benchmarks/requirements.txt) with ``curl -o ftp://``.

Each figure is the median of RUNS transfers in MiB/s, with the ratio to the floor.

    python benchmarks/files.py [--size-mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


def floor(source: Path, dest: Path) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        conn, _ = listener.accept()
        with conn, open(source, "rb") as file:
            conn.sendfile(file)

    sender = threading.Thread(target=send)
    sender.start()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(dest, "wb") as out:
        buffer = memoryview(bytearray(CHUNK))
        while n := sock.recv_into(buffer):
            out.write(buffer[:n])
    elapsed = time.perf_counter() - started
    sender.join()
    listener.close()
    return elapsed


def hosepipe_get(root: Path, name: str, dest: Path) -> Callable[[], float]:
    server = subprocess.Popen([sys.executable, "-m", "hosepipe", "-q", "serve",
                               "files@tcp://127.0.0.1:0", "--root", str(root)],
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * CHUNK
    print(f"# files: {args.size_mib} MiB over loopback, median of {args.runs}; "
          f"{' '.join(sys.argv)}; all processes unpinned")
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "root", Path(tmp) / "out"
        root.mkdir()
        out.mkdir()
        source = root / "big.bin"
        make_file(source, size)
        http_port, ftp_port = free_port(), free_port()
        peers = [
            subprocess.Popen([sys.executable, "-m", "http.server", str(http_port), "-b",
                              "127.0.0.1", "-d", str(root)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p",
                              str(ftp_port), "-d", str(root)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
        ]
        ours = hosepipe_get(root, "big.bin", out / "hosepipe.bin")
        contenders: list[tuple[str, Callable[[], float]]] = [
            ("socket.sendfile -> recv_into (floor)", lambda: floor(source, out / "floor.bin")),
            ("hosepipe get (select, verified)", ours),
            ("http.server + curl", lambda: curl(f"http://127.0.0.1:{http_port}/big.bin",
                                                out / "http.bin")),
            ("pyftpdlib + curl", lambda: curl(f"ftp://127.0.0.1:{ftp_port}/big.bin",
                                              out / "ftp.bin")),
        ]
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
            print(f"{'contender':<40} {'MiB/s':>8} {'min':>8} {'max':>8} {'x floor':>8}")
            for label, rates in results:
                median = statistics.median(rates)
                print(f"{label:<40} {median:>8.0f} {min(rates):>8.0f} {max(rates):>8.0f} "
                      f"{median / base:>8.2f}")
        finally:
            for process in [*peers, ours.server]:  # type: ignore[attr-defined]
                process.terminate()
                process.wait()
            ours.server.stdout.close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
