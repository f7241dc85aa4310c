"""Small messages: hosepipe's models beside the raw floor and the usual peers.

1. Request/reply, one client, 64-byte requests one at a time, over TCP and a Unix socket:
   every hosepipe model; a raw blocking-socket ping-pong (the floor);
   multiprocessing.connection; pyzmq REQ/REP; RPyC; Pyro5 (peers from
   benchmarks/requirements.txt; a missing one is reported as such).
2. A pipe to a forked child, 64 bytes: ``Client("pipe:")`` beside a raw ``os.pipe``
   ping-pong.
3. One-way messages pipelined on one connection, 64 bytes: framed messages into a
   hosepipe service (async model) beside pyzmq PUSH/PULL.

Each server runs in its own process (forked), the client in this one. Every workload
runs twice: unpinned, and pinned (server, pipe child or receiver on CPU 0; client,
parent or sender on CPU 1; ``sched_setaffinity``, as ``taskset -c`` would);
``--unpinned-only`` skips the second.
Every figure is the median of RUNS runs, with min and max, and the ratio to the first
row of its table.

    make bench                 # or: python benchmarks/run.py --runs 5 --round-trips 5000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Client as MpClient
from multiprocessing.connection import Listener as MpListener
from typing import Any

from hosepipe import (
    CLOSE,
    Action,
    Binding,
    Client,
    Conversation,
    Limits,
    MessageService,
    Send,
    Superserver,
    parse_address,
)
from hosepipe.wire import FrameDecoder, encode_frame

try:
    import zmq
except ImportError:
    zmq = None
try:
    import rpyc
    from rpyc.utils.server import ThreadedServer
except ImportError:
    rpyc = None
try:
    import Pyro5.api as pyro
except ImportError:
    pyro = None

PAYLOAD = b"x" * 64


class Ping(MessageService):
    """Answers each request with itself."""

    name = "ping"

    def handle(self, request: Any) -> Any:
        return request


# -- servers (each runs in a child process and reports its address on a queue) ---------

def hosepipe_server(address: str, model: str, ready: Any, service: Any = None) -> None:
    server = Superserver([Binding(service=service or Ping(), address=parse_address(address),
                                  model=model, limits=Limits(grace=0.5))])
    server.open()
    ready.put(server.addresses[0])
    server.run()


def raw_server(address: str, _model: str, ready: Any) -> None:
    listener = _raw_listener(address)
    ready.put(address if address.startswith("unix") else f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    while True:
        conn, _ = listener.accept()
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)


def _raw_listener(address: str) -> socket.socket:
    if address.startswith("unix://"):
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(address[7:])
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def mp_server(address: str, _model: str, ready: Any) -> None:
    where: Any = address[7:] if address.startswith("unix://") else ("127.0.0.1", 0)
    with MpListener(where) as listener:
        bound = listener.address
        ready.put(f"unix://{bound}" if isinstance(bound, str) else f"tcp://127.0.0.1:{bound[1]}")
        while True:
            with listener.accept() as conn:
                try:
                    while True:
                        conn.send_bytes(conn.recv_bytes())
                except EOFError:
                    pass


# -- clients: each returns the seconds taken by n round trips ---------------------------

def raw_client(address: str, n: int) -> float:
    if address.startswith("unix://"):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(address[7:])
    else:
        host, port = address[6:].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with sock:
        started = time.perf_counter()
        for _ in range(n):
            sock.sendall(PAYLOAD)
            got = 0
            while got < len(PAYLOAD):
                got += len(sock.recv(65536))
        return time.perf_counter() - started


def mp_client(address: str, n: int) -> float:
    where: Any = address[7:] if address.startswith("unix://") else (
        "127.0.0.1", int(address.rsplit(":", 1)[1]))
    with MpClient(where) as conn:
        started = time.perf_counter()
        for _ in range(n):
            conn.send_bytes(PAYLOAD)
            conn.recv_bytes()
        return time.perf_counter() - started


def hosepipe_client(address: str, n: int) -> float:
    with Client(address) as client:
        started = time.perf_counter()
        for _ in range(n):
            client.request(PAYLOAD)
        return time.perf_counter() - started


def zmq_server(address: str, _model: str, ready: Any) -> None:
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    if address.startswith("unix://"):
        sock.bind("ipc://" + address[7:])
        ready.put("ipc://" + address[7:])
    else:
        ready.put(f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}")
    while True:
        sock.send(sock.recv())


def zmq_client(address: str, n: int) -> float:
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.connect(address)
    started = time.perf_counter()
    for _ in range(n):
        sock.send(PAYLOAD)
        sock.recv()
    elapsed = time.perf_counter() - started
    sock.close()
    context.term()
    return elapsed


if rpyc is not None:
    class RpycEcho(rpyc.Service):  # type: ignore[misc]
        def exposed_echo(self, data: bytes) -> bytes:
            return data


def rpyc_server(address: str, _model: str, ready: Any) -> None:
    if address.startswith("unix://"):
        server = ThreadedServer(RpycEcho, socket_path=address[7:])
        ready.put(address)
    else:
        server = ThreadedServer(RpycEcho, hostname="127.0.0.1", port=0)
        ready.put(f"tcp://127.0.0.1:{server.port}")
    server.start()


def rpyc_connect(address: str) -> Any:
    """ThreadedServer binds when built but listens only in start(), after the address
    is reported: retry a refused connection for a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        try:
            if address.startswith("unix://"):
                return rpyc.utils.factory.unix_connect(address[7:])
            return rpyc.connect("127.0.0.1", int(address.rsplit(":", 1)[1]))
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def rpyc_client(address: str, n: int) -> float:
    conn = rpyc_connect(address)
    echo = conn.root.echo
    started = time.perf_counter()
    for _ in range(n):
        echo(PAYLOAD)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


class PyroEcho:
    def echo(self, data: Any) -> Any:
        return data


def pyro_server(address: str, _model: str, ready: Any) -> None:
    exposed = pyro.expose(PyroEcho)
    if address.startswith("unix://"):
        daemon = pyro.Daemon(unixsocket=address[7:])
    else:
        daemon = pyro.Daemon(host="127.0.0.1", port=0)
    ready.put(str(daemon.register(exposed, "echo")))
    daemon.requestLoop()


def pyro_client(address: str, n: int) -> float:
    with pyro.Proxy(address) as proxy:
        proxy.echo(PAYLOAD)
        started = time.perf_counter()
        for _ in range(n):
            proxy.echo(PAYLOAD)
        return time.perf_counter() - started


Contender = tuple[str, Callable[..., None], Callable[[str, int], float], str]

CONTENDERS: list[Contender] = [
    ("raw socket (floor)", raw_server, raw_client, "-"),
    ("multiprocessing.connection", mp_server, mp_client, "-"),
    *[(f"hosepipe {m}", hosepipe_server, hosepipe_client, m)
      for m in ("iterative", "thread", "fork", "select", "async")],
]
PEERS: list[tuple[str, object, Contender]] = [
    ("pyzmq REQ/REP", zmq, ("pyzmq REQ/REP", zmq_server, zmq_client, "-")),
    ("RPyC", rpyc, ("RPyC", rpyc_server, rpyc_client, "-")),
    ("Pyro5", pyro, ("Pyro5", pyro_server, pyro_client, "-")),
]
CONTENDERS += [contender for _, module, contender in PEERS if module is not None]


# -- a pipe to a forked child -------------------------------------------------------------

def pipe_floor(n: int) -> float:
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if SERVER_CPUS is not None:
            os.sched_setaffinity(0, SERVER_CPUS)
        os.close(down_w)
        os.close(up_r)
        while data := os.read(down_r, 65536):
            os.write(up_w, data)
        os._exit(0)
    os.close(down_r)
    os.close(up_w)
    started = time.perf_counter()
    for _ in range(n):
        os.write(down_w, PAYLOAD)
        got = 0
        while got < len(PAYLOAD):
            got += len(os.read(up_r, 65536))
    elapsed = time.perf_counter() - started
    os.close(down_w)
    os.close(up_r)
    os.waitpid(pid, 0)
    return elapsed


def pipe_hosepipe(n: int) -> float:
    with Client("pipe:", service=Ping()) as client:
        if SERVER_CPUS is not None:  # the child was forked on our CPU: move it
            os.sched_setaffinity(client.stream.pid, SERVER_CPUS)  # type: ignore[attr-defined]
        started = time.perf_counter()
        for _ in range(n):
            client.request(PAYLOAD)
        return time.perf_counter() - started


# -- one-way messages, pipelined ------------------------------------------------------------

class Count(Conversation):
    """Counts the frames it receives; at end of stream says how many."""

    def __init__(self) -> None:
        self.frames = FrameDecoder()
        self.count = 0

    def data_received(self, data: bytes) -> list[Action]:
        self.frames.feed(data)
        while self.frames.next_frame() is not None:
            self.count += 1
        return []

    def eof_received(self) -> list[Action]:
        return [Send(b"%d" % self.count), CLOSE]


class CountService(MessageService):
    name = "count"

    def conversation(self, context: Any) -> Conversation:
        return Count()


def oneway_hosepipe(n: int) -> float:
    ready: Any = multiprocessing.get_context("fork").Queue()
    server = multiprocessing.get_context("fork").Process(
        target=lambda: _placed(_serve_count, ready), daemon=True)
    server.start()
    host, port = ready.get(timeout=20)[6:].rsplit(":", 1)
    batch = encode_frame(PAYLOAD) * 1000
    try:
        started = time.perf_counter()
        with socket.create_connection((host, int(port))) as sock:
            for _ in range(n // 1000):
                sock.sendall(batch)
            sock.shutdown(socket.SHUT_WR)
            assert int(sock.makefile("rb").read()) == n // 1000 * 1000
        return time.perf_counter() - started
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.join(10)


def _serve_count(ready: Any) -> None:
    hosepipe_server("tcp://127.0.0.1:0", "async", ready, CountService())


def oneway_zmq(n: int) -> float:
    ready: Any = multiprocessing.get_context("fork").Queue()
    done: Any = multiprocessing.get_context("fork").Queue()

    def receive() -> None:
        if SERVER_CPUS is not None:
            os.sched_setaffinity(0, SERVER_CPUS)
        context = zmq.Context()
        sock = context.socket(zmq.PULL)
        ready.put(sock.bind_to_random_port("tcp://127.0.0.1"))
        for _ in range(n // 1000 * 1000):
            sock.recv()
        done.put(True)

    receiver = multiprocessing.get_context("fork").Process(target=receive, daemon=True)
    receiver.start()
    port = ready.get(timeout=20)
    context = zmq.Context()
    sock = context.socket(zmq.PUSH)
    sock.connect(f"tcp://127.0.0.1:{port}")
    started = time.perf_counter()
    for _ in range(n // 1000 * 1000):
        sock.send(PAYLOAD)
    done.get(timeout=120)
    elapsed = time.perf_counter() - started
    sock.close()
    context.term()
    receiver.join(10)
    return elapsed


SERVER_CPUS: set[int] | None = None  # set while the pinned table runs


def _placed(server: Callable[..., None], *args: Any) -> None:
    if SERVER_CPUS is not None:
        os.sched_setaffinity(0, SERVER_CPUS)
    server(*args)


def measure(contender: Contender, address: str, runs: int, n: int) -> list[float]:
    _name, server, client, model = contender
    ready: Any = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(
        target=_placed, args=(server, address, model, ready), daemon=True)
    process.start()
    try:
        bound = ready.get(timeout=20)
        client(bound, max(1, n // 10))  # warm-up
        return [n / client(bound, n) for _ in range(runs)]
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--unpinned-only", action="store_true")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()} {machine}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"# {' '.join(sys.argv)}: median of {args.runs} runs x {args.round_trips} round trips")
    missing = [name for name, module, _ in PEERS if module is None]
    if missing:
        print(f"# not installed (pip install -r benchmarks/requirements.txt): {missing}")
    global SERVER_CPUS
    placements = [None] if args.unpinned_only or (os.cpu_count() or 1) < 2 else [None, {0}]
    with tempfile.TemporaryDirectory() as directory:
        for placement, transport in [(p, t) for p in placements for t in ("tcp", "unix")]:
            SERVER_CPUS = placement
            os.sched_setaffinity(0, {1} if placement else set(range(os.cpu_count() or 1)))
            where = "pinned: server CPU 0, client CPU 1" if placement else "unpinned"
            print(f"\n{transport:<5} {'contender (' + where + ')':<44} {'req/s':>9} "
                  f"{'min':>9} {'max':>9} {'x floor':>8}")
            floor = None
            for index, contender in enumerate(CONTENDERS):
                tag = "p" if placement else ""
                address = ("tcp://127.0.0.1:0" if transport == "tcp"
                           else f"unix://{directory}/{transport}{index}{tag}.sock")
                rates = measure(contender, address, args.runs, args.round_trips)
                median = statistics.median(rates)
                floor = floor or median
                print(f"{'':<5} {contender[0]:<44} {median:>9.0f} {min(rates):>9.0f} "
                      f"{max(rates):>9.0f} {median / floor:>8.2f}", flush=True)
    oneway = [("hosepipe framed, async model", oneway_hosepipe)]
    if zmq is not None:
        oneway.insert(0, ("pyzmq PUSH/PULL", oneway_zmq))
    for placement in placements:
        SERVER_CPUS = placement
        os.sched_setaffinity(0, {1} if placement else set(range(os.cpu_count() or 1)))
        where = "pinned: child/receiver CPU 0, parent/sender CPU 1" if placement else "unpinned"
        table(f"pipe to a forked child, 64 B ({where})", "round trips/s", args.runs,
              args.round_trips, [("raw os.pipe ping-pong (floor)", pipe_floor),
                                 ("hosepipe pipe:", pipe_hosepipe)])
        table(f"one-way messages pipelined, 64 B ({where})", "messages/s", args.runs,
              200_000, oneway)
    SERVER_CPUS = None
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return 0


def table(title: str, unit: str, runs: int, n: int,
          contenders: list[tuple[str, Callable[[int], float]]]) -> None:
    print(f"\n{title}: {n} each, median of {runs}")
    print(f"      {'contender':<30} {unit:>14} {'min':>9} {'max':>9} {'x first':>8}")
    first = None
    for label, run in contenders:
        rates = [n / run(n) for _ in range(runs)]
        median = statistics.median(rates)
        first = first or median
        print(f"      {label:<30} {median:>14.0f} {min(rates):>9.0f} {max(rates):>9.0f} "
              f"{median / first:>8.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
