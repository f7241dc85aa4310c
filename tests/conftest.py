"""Shared fixtures: a leak guard around every test, and real servers run from the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from hosepipe.servers.asynchronous import new_event_loop

SETTLE = 3.0  # seconds a test's threads, fds and children get to go away


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
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
        return code

    def log(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()


def start_server(*args: str, expect: int | None = None, timeout: float = 15.0,
                 cwd: Path | None = None) -> ServerProcess:
    """Run ``hosepipe serve ARGS`` and wait for its binding lines (``expect`` of them)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hosepipe", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
    )
    server = ServerProcess(process)
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    wanted = expect if expect is not None else sum(1 for a in args if "@" in a)
    while len(server.lines) < wanted:
        line = process.stdout.readline()
        if not line:
            err = process.stderr.read() if process.stderr else ""
            process.wait()
            raise RuntimeError(f"server exited ({process.returncode}) before binding: {err}")
        name, address, _model = line.split()
        server.lines.append(line)
        server.bound.setdefault(name, []).append(address)
        if time.monotonic() > deadline:
            raise TimeoutError("server did not report its bindings")
    return server


def run_cli(*args: str, input: str | None = None, timeout: float = 30.0,
            ) -> subprocess.CompletedProcess[str]:
    """Run a ``hosepipe`` client command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "hosepipe", *args],
        input=input, capture_output=True, text=True, timeout=timeout, check=False,
    )
