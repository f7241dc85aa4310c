"""Relay throughput: 1 GiB TCP -> TCP through ``hosepipe relay`` and through ``socat``.

A source server sends SIZE bytes to whoever connects and closes; a sink server reads
until the end of the stream and reports how long it took from its first byte to its
last. Each relay under test connects to both, once (``hosepipe relay tcp://SRC
tcp://SINK``, ``socat TCP:SRC TCP:SINK``), and moves the bytes across. The figure is
MiB/s at the sink, median of RUNS runs (the relays taking turns), in one run of this
script, and the ratio to socat. Source and sink are forked processes of this script;
each relay is its own process. ``hosepipe relay --copy`` (the bytes through Python
instead of splice) is shown for comparison; socat copies through its 8 KiB buffer (its
default ``-b``), and the ``socat -b 262144`` row gives it a buffer as large as the
relay's.

    python benchmarks/relay.py [--runs 3] [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

CHUNK = 1 << 20


def source(listener: socket.socket, size: int) -> None:
    conn, _ = listener.accept()
    block = memoryview(bytes(CHUNK))
    sent = 0
    while sent < size:
        sent += conn.send(block[: min(CHUNK, size - sent)])
    conn.close()


def sink(listener: socket.socket, report: multiprocessing.connection.Connection) -> None:
    conn, _ = listener.accept()
    buffer = memoryview(bytearray(CHUNK))
    received = conn.recv_into(buffer)
    first = time.perf_counter()
    while count := conn.recv_into(buffer):
        received += count
    report.send((received, time.perf_counter() - first))
    conn.close()


def one_run(command: list[str], size: int) -> float:
    """MiB/s at the sink for one relay process running ``command`` (SRC and SINK filled)."""
    context = multiprocessing.get_context("fork")
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    ports = [str(s.getsockname()[1]) for s in listeners]
    receive, send = context.Pipe(duplex=False)
    workers = [context.Process(target=source, args=(listeners[0], size)),
               context.Process(target=sink, args=(listeners[1], send))]
    for worker in workers:
        worker.start()
    for listener in listeners:
        listener.close()
    argv = [part.replace("SRC", ports[0]).replace("SINK", ports[1]) for part in command]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    received, seconds = receive.recv()
    for worker in workers:
        worker.join()
    assert received == size, f"{argv[0]}: {received} of {size} bytes"
    return size / seconds / (1 << 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib << 20
    socat = shutil.which("socat")
    if socat is None:
        print("socat is not installed (apt-get install socat); nothing to compare with")
        return 1
    hosepipe = [sys.executable, "-m", "hosepipe", "-q", "relay"]
    contenders = [
        ("socat (floor)", [socat, "TCP:127.0.0.1:SRC", "TCP:127.0.0.1:SINK"]),
        ("socat -b 262144", [socat, "-b", "262144", "TCP:127.0.0.1:SRC", "TCP:127.0.0.1:SINK"]),
        ("hosepipe relay (splice)", [*hosepipe, "tcp://127.0.0.1:SRC", "tcp://127.0.0.1:SINK"]),
        ("hosepipe relay --copy", [*hosepipe, "--copy", "tcp://127.0.0.1:SRC",
                                   "tcp://127.0.0.1:SINK"]),
    ]
    print(f"# relay: {args.size_mib} MiB TCP -> TCP over loopback, median of {args.runs}; "
          f"{' '.join(sys.argv)}; {os.cpu_count()} CPUs")
    print(f"{'relay':<28}{'MiB/s':>10}{'min':>10}{'max':>10}{'x socat':>10}")
    rates: dict[str, list[float]] = {label: [] for label, _ in contenders}
    for _ in range(args.runs):  # in turn: the host's swings fall on every relay alike
        for label, command in contenders:
            rates[label].append(one_run(command, size))
    floor = statistics.median(rates[contenders[0][0]])
    for label, got in rates.items():
        median = statistics.median(got)
        print(f"{label:<28}{median:>10.0f}{min(got):>10.0f}{max(got):>10.0f}"
              f"{median / floor:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
