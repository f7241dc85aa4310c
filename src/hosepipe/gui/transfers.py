"""One download or upload, without Tk: its state, its progress, its rate and ETA.

A :class:`Transfer` runs on a worker thread (:meth:`Transfer.run`) over its own
connection. The worker writes only ``done`` and ``total`` (two integers; the Tk thread
reads them at each refresh and feeds the :class:`RateMeter`), and the outcome comes
back through the window's queue to :meth:`Transfer.finish`, so every other field
changes on the Tk thread alone.

Downloads go through ``NAME.part`` (see :mod:`hosepipe.files.client`): a cancelled or
broken download keeps its part, and running it again asks the server for the rest only.
The SHA-256 covers the whole file, so a resumed part is verified like a fresh one.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hosepipe.errors import ConnectionClosed
from hosepipe.files.client import ChecksumMismatch
from hosepipe.gui.remote import Endpoint, describe
from hosepipe.gui.tasks import Cancel, Cancelled
from hosepipe.units import format_size

__all__ = ["RateMeter", "Transfer", "choose_dest", "format_eta"]

RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"
_ids = itertools.count(1)


def format_eta(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def choose_dest(folder: Path, remote: str) -> Path:
    """Where ``remote`` goes in ``folder``: its own name, or the name whose part is
    waiting to be resumed; never over an existing file (``name (1).ext`` instead)."""
    name = PurePosixPath(remote).name
    dest = folder / name
    if dest.with_name(name + ".part").exists() or not dest.exists():
        return dest
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 10_000):
        candidate = folder / f"{stem} ({n}){suffix}"
        part = candidate.with_name(candidate.name + ".part")
        if part.exists() or not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name for {name} in {folder}")


class RateMeter:
    """Bytes per second over the last ``window`` seconds."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    def clear(self) -> None:
        self.samples.clear()


@dataclass(eq=False)
class Transfer:
    kind: str  # "get" or "put"
    remote: str  # the path on the server (get) or the name to store (put)
    local: Path  # where a download goes, or the file an upload sends
    endpoint: Endpoint
    id: int = field(default_factory=lambda: next(_ids))
    state: str = RUNNING
    done: int = 0
    total: int = 0
    message: str = ""
    resumed: bool = False
    started: float = field(default_factory=time.monotonic)
    cancel: Cancel = field(default_factory=Cancel)
    meter: RateMeter = field(default_factory=RateMeter)

    @property
    def part(self) -> Path:
        return self.local.with_name(self.local.name + ".part")

    @property
    def title(self) -> str:
        if self.kind == "get":
            return f"↓ {PurePosixPath(self.remote).name}"
        return f"↑ {self.local.name}"

    @property
    def can_resume(self) -> bool:
        return self.kind == "get" and self.state in (CANCELLED, FAILED) and self.part.exists()

    def run(self) -> str:
        """On a worker thread: the whole transfer; a line for the window when it is done."""
        self.cancel.check()
        with self.endpoint.connect() as files:
            self.cancel.attach(files.client.stream.abort)
            if self.kind == "put":
                reply = files.put(self.local, self.remote, progress=self._progress)
                return f"{format_size(reply['size'])} stored as {reply['stored']}, SHA-256 verified"
            header = files.get(self.remote, self.local, resume=self.resumed,
                               progress=self._progress)
        again = f", resumed at {format_size(header['offset'])}" if header["offset"] else ""
        return f"{format_size(header['size'])}, SHA-256 verified{again}"

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.cancel.check()

    def start(self) -> None:
        """(Re)start on the Tk thread, before :meth:`run` goes to a worker."""
        self.state, self.message, self.cancel = RUNNING, "", Cancel()
        self.resumed = self.kind == "get" and self.part.exists()
        self.done = self.part.stat().st_size if self.resumed else 0
        self.started = time.monotonic()
        self.meter.clear()

    def finish(self, outcome: str | BaseException) -> None:
        """On the Tk thread: what :meth:`run` returned or raised."""
        if isinstance(outcome, str):
            self.state, self.message = DONE, outcome
            self.done = self.total = max(self.total, self.done)
        elif isinstance(outcome, Cancelled) or self.cancel.cancelled:
            self.state = CANCELLED
            self.message = self._stopped("cancelled")
        else:
            self.state = FAILED
            self.message = self._failure(outcome)

    def _stopped(self, what: str) -> str:
        where = f" at {format_size(self.done)} of {format_size(self.total)}" if self.total else ""
        kept = "; part kept for Resume" if self.can_resume else ""
        return f"{what}{where}{kept}"

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, ConnectionClosed) and self.total:
            return self._stopped(f"connection lost ({exc})")
        if isinstance(exc, ChecksumMismatch):
            return f"{describe(exc)} (Retry downloads it again)"
        return describe(exc)

    def describe_progress(self, now: float) -> str:
        """The running line: bytes so far, rate, time left."""
        self.meter.add(now, self.done)
        rate = self.meter.rate()
        text = f"{format_size(self.done)} of {format_size(self.total)}" if self.total \
            else f"{format_size(self.done)}"
        if rate:
            text += f" · {format_size(rate)}/s"
            if self.total and self.total > self.done:
                text += f" · {format_eta((self.total - self.done) / rate)} left"
        return text
