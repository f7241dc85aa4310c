"""Shared fixtures: a leak guard around every test, and real servers run from the CLI."""

from __future__ import annotations

import os
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
import psycopg
import pytest

from hosepipe.servers.asynchronous import new_event_loop
from tests.measured import summary_lines
from tests.waiting import wait_for_log

SETTLE = 3.0  # seconds a test's threads, fds and children get to go away


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in summary_lines():
        terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    """Give Ctrl-C back to the suite and to every process it starts.

    A non-interactive shell starts ``cmd &`` with SIGINT ignored, and an ignored signal
    stays ignored across ``exec``: every hosepipe client a test runs would then ignore
    the SIGINT the test sends it (Python raises KeyboardInterrupt only when SIGINT was
    not ignored at start), and the Ctrl-C tests fail for where the suite was launched
    from. That is the shell protecting a background job from the terminal's Ctrl-C,
    which is right for the job but not for the signals a test sends on purpose. So the
    test process takes Python's own handler back; a *handled* signal is reset to its
    default in a child at ``exec``, so children start as they would from a terminal.
    (``hosepipe serve`` installs its own SIGINT handler anyway; the clients keep the
    Unix convention of honouring an inherited SIG_IGN, as ``nohup`` users expect.)
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _snapshot() -> tuple[set[int], set[int], set[int]]:
    me = psutil.Process()
    threads = {t.ident or 0 for t in threading.enumerate()}
    fds = set(int(name) for name in os.listdir("/proc/self/fd"))
    children = {child.pid for child in me.children(recursive=False)}
    return threads, fds, children


def _describe_fds(fds: set[int]) -> list[str]:
    out = []
    for fd in sorted(fds):
        try:
            out.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            out.append(f"{fd} (gone)")
    return out


@pytest.fixture(scope="session", autouse=True)
def _process_wide_singletons() -> None:
    """Let libraries make their once-per-process resources before any leak snapshot.

    uvloop opens one pipe pair the first time a loop is created in a process and keeps
    it for the life of the process; a second loop opens nothing. That is not a leak.
    """
    new_event_loop().close()


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves threads, file descriptors or child processes behind."""
    before = _snapshot()
    yield
    deadline = time.monotonic() + SETTLE
    while True:
        after = _snapshot()
        extra = [a - b for a, b in zip(after, before, strict=True)]
        if not any(extra) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    threads, fds, children = extra
    problems = []
    if threads:
        names = [t.name for t in threading.enumerate() if (t.ident or 0) in threads]
        problems.append(f"threads left running: {names}")
    if fds:
        problems.append(f"file descriptors left open: {_describe_fds(fds)}")
    if children:
        problems.append(f"child processes left: {sorted(children)}")
    if problems:
        pytest.fail("; ".join(problems))


@dataclass
class ServerProcess:
    """A ``hosepipe serve`` subprocess and the addresses it reported."""

    process: subprocess.Popen[str]
    bound: dict[str, list[str]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    stderr_text: str = ""
    log_file: IO[str] | None = None

    def address(self, service: str, scheme: str = "tcp") -> str:
        for address in self.bound[service]:
            if address.startswith(scheme + ":"):
                return address
        raise KeyError(f"{service} has no {scheme} binding: {self.bound[service]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
            if self.log_file is not None and not self.log_file.closed:
                self.log_file.seek(0)
                self.stderr_text = self.log_file.read()
                self.log_file.close()
        return code

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 30.0) -> str:
        """Wait until the running server has logged ``text`` ``count`` times."""
        assert self.log_file is not None and not self.log_file.closed
        return wait_for_log(self.log_file, text, count, timeout)

    def log(self) -> str:
        """Everything the server wrote to stderr (stops the server first)."""
        if self.log_file is not None and not self.log_file.closed:
            self.stop()
        return self.stderr_text


def start_server(*args: str, expect: int | None = None, timeout: float = 15.0,
                 cwd: Path | None = None, max_fds: int | None = None) -> ServerProcess:
    """Run ``hosepipe serve ARGS`` and wait for its binding lines (``expect`` of them);
    ``max_fds`` sets the server's RLIMIT_NOFILE (as ``ulimit -n`` would)."""

    def limit_fds() -> None:
        if max_fds is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_fds, max_fds))

    # stderr goes to a file, not a pipe: a pipe nobody reads fills up with the server's
    # log lines and then blocks the server mid-write
    log_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(
        [sys.executable, "-m", "hosepipe", "serve", *args],
        stdout=subprocess.PIPE, stderr=log_file, text=True, cwd=cwd,
        preexec_fn=limit_fds if max_fds is not None else None,
    )
    server = ServerProcess(process, log_file=log_file)
    bindings = [a for i, a in enumerate(args)
                if "@" in a and (i == 0 or not args[i - 1].startswith("-"))]
    wanted = expect if expect is not None else len(bindings)
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def read_bindings() -> None:  # ends after `wanted` lines, or at EOF
        assert process.stdout is not None
        for _ in range(wanted):
            lines.put(process.stdout.readline())

    reader = threading.Thread(target=read_bindings, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while len(server.lines) < wanted:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            server.stop(signal.SIGKILL)
            reader.join()
            raise TimeoutError(f"server did not report its bindings in {timeout} s") from None
        if not line:
            reader.join()
            code = server.stop()
            raise RuntimeError(f"server exited ({code}) before binding: {server.log()}")
        name, address, _model = line.split()
        server.lines.append(line)
        server.bound.setdefault(name, []).append(address)
    reader.join()
    return server


def run_cli(*args: str, input: str | None = None, timeout: float = 30.0,
            ) -> subprocess.CompletedProcess[str]:
    """Run a ``hosepipe`` client command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "hosepipe", *args],
        input=input, capture_output=True, text=True, timeout=timeout, check=False,
    )


# -- databases for the book ----------------------------------------------------------------

def postgres_base_url() -> str:
    url = os.environ.get("HOSEPIPE_TEST_POSTGRES")
    if not url:
        pytest.skip("HOSEPIPE_TEST_POSTGRES is not set (.ci/run sets it)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_base_url()
    schema = f"hosepipe_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty book database of each kind."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/book.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


# -- a file tree for the file service -------------------------------------------------------

@dataclass
class FileTree:
    root: Path
    outside: Path  # files here must never be served
    uploads: Path


def make_tree(base: Path) -> FileTree:
    """A root full of traps: links out and in, a sibling named like the root, a FIFO."""
    root, sibling, outside, uploads = (base / "root", base / "rootbar", base / "outside",
                                       base / "uploads")
    for directory in (root / "docs" / "deep", sibling, outside, uploads, root / ".private"):
        directory.mkdir(parents=True)
    (outside / "secret.txt").write_text("outside secret\n")
    (sibling / "x.txt").write_text("sibling secret\n")
    (root / "docs" / "report.txt").write_text("the report\n")
    (root / "docs" / "deep" / "note.txt").write_text("deep note\n")
    (root / ".env").write_text("hidden secret\n")
    (root / ".private" / "key").write_text("hidden key\n")
    (root / "empty.txt").write_bytes(b"")
    os.symlink("../outside/secret.txt", root / "out-link")
    os.symlink(str(outside), root / "out-dir")
    os.symlink("/etc", root / "etc")
    os.symlink("../rootbar/x.txt", root / "sibling-link")
    os.symlink("docs/report.txt", root / "in-link")
    os.symlink(str(root / "docs"), root / "abs-in-dir")
    os.symlink("deep/../../docs/report.txt", root / "docs" / "winding")
    os.symlink("nowhere", root / "dangling")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.mkfifo(root / "fifo")
    return FileTree(root, outside, uploads)


@pytest.fixture
def tree(tmp_path: Path) -> FileTree:
    return make_tree(tmp_path)
