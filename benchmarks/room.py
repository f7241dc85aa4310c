"""Fan-out: a room of 100 members, hosepipe's room service beside ``ncat --chat``.

Each server runs in its own process. The load (asyncio + uvloop, in this process)
connects MEMBERS members and waits until all are in the room; then every member sends
LINES lines at once, and the clock runs until every member has received every other
member's lines. Figure: deliveries per second (a line reaching one member is one
delivery: MEMBERS x (MEMBERS - 1) x LINES in all), median of RUNS runs, and the ratio
to ncat. ncat is the Debian package ``ncat`` (``apt-get install -y ncat``, done here
when it is missing and we are root).

    python benchmarks/room.py [--runs 3] [--members 100] [--lines 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

import uvloop

MARK = b"~"  # appears in the payload only, so counting it counts deliveries


def ensure_ncat() -> str:
    path = shutil.which("ncat")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "ncat"], check=False,
                       stdout=subprocess.DEVNULL)
        path = shutil.which("ncat")
    if path is None:
        sys.exit("ncat is missing: apt-get install -y ncat (Debian/Ubuntu)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ncat(ncat: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([ncat, "--chat", "-l", "127.0.0.1", str(port), "-m", "1000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until it listens (not by connecting: ncat 7.93
        try:                            # quits when a connection closes at once)
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))
        except OSError:
            return process, port
        time.sleep(0.05)
    process.kill()
    sys.exit("ncat did not start")


def start_room(model: str, lines: int) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hosepipe", "serve", "room@tcp://127.0.0.1:0", "--model", model,
         "--max-per-client", "2000", "--threads", "256", "-o", f"room.flood_burst={lines + 10}",
         "-q"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    return process, int(process.stdout.readline().split()[1].rsplit(":", 1)[1])


async def read_until(reader: asyncio.StreamReader, wanted: bytes, count: int = 1) -> None:
    data = b""
    while data.count(wanted) < count:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError(f"closed while joining: {data[-200:]!r}")
        data += chunk


async def one_run(port: int, hosepipe: bool, members: int, lines: int) -> float:
    links = []
    for index in range(members):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if hosepipe:
            writer.write(b"m%d\n" % index)
            await read_until(reader, b"* in lobby:")
        else:  # ncat tells a new member who is there
            await read_until(reader, b"already connected")
        links.append((reader, writer))
    wanted = (members - 1) * lines

    async def member(index: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(b"m%d line %d ~\n" % (index, n) for n in range(lines)))
        got = 0
        while got < wanted:
            chunk = await reader.read(1 << 20)
            if not chunk:
                raise ConnectionError("a member was disconnected")
            got += chunk.count(MARK)

    started = time.perf_counter()
    await asyncio.gather(*(member(i, r, w) for i, (r, w) in enumerate(links)))
    elapsed = time.perf_counter() - started
    for _, writer in links:
        writer.close()
    return members * wanted / elapsed


def measure(start: object, hosepipe: bool, runs: int, members: int, lines: int) -> float:
    figures = []
    for _ in range(runs):  # a fresh server each run: no members left from the last
        process, port = start()  # type: ignore[operator]
        try:
            figures.append(uvloop.run(one_run(port, hosepipe, members, lines)))
        finally:
            process.terminate()
            process.wait(10)
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--lines", type=int, default=50)
    args = parser.parse_args()
    ncat = ensure_ncat()
    floor = measure(lambda: start_ncat(ncat), False, args.runs, args.members, args.lines)
    print(f"room fan-out, {args.members} members x {args.lines} lines each "
          f"(deliveries per second, median of {args.runs})")
    print(f"{'ncat --chat':<18} {floor:>12,.0f}  1.00x")
    for model in ("select", "async", "thread"):
        figure = measure(lambda m=model: start_room(m, args.lines), True, args.runs,
                         args.members, args.lines)
        print(f"{'hosepipe ' + model:<18} {figure:>12,.0f}  {figure / floor:.2f}x")


if __name__ == "__main__":
    main()
