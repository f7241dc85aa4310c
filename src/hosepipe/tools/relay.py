"""``hosepipe relay A B``: join two addresses both ways, as socat does.

:func:`relay_streams` is the engine: it takes two connected ends (streams from
:mod:`hosepipe.transports.connect`, sockets, or :class:`~hosepipe.tools.ends.End`),
runs one poll loop over their descriptors with a :class:`~hosepipe.tools.pump.Direction`
each way, and returns a :class:`RelayResult` once both directions have ended. It owns
the ends and closes them. :func:`relay` connects two addresses and relays them once;
``--listen`` is in :mod:`hosepipe.tools.relay_listen`.

Ending: a source's end of stream is carried across as a half-close of the other side
(TCP ``shutdown(SHUT_WR)``, a closed pipe), and the relay ends when both directions
have. ``linger`` bounds how long the second direction may go on once the first has
ended (default: no bound, except that a datagram end, which never says it is the
last, gets :data:`DATAGRAM_LINGER`); ``idle_timeout`` ends a relay that moved nothing
for that long; a byte on ``stop_fd`` ends it at once.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hosepipe.address import Address
from hosepipe.tools.ends import End, Endpoint, as_end, open_end
from hosepipe.tools.hexdump import Dump
from hosepipe.tools.pump import Direction

__all__ = ["DATAGRAM_LINGER", "RelayOptions", "RelayResult", "relay", "relay_streams"]

DATAGRAM_LINGER = 1.0
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@dataclass(frozen=True)
class RelayOptions:
    """How a relay behaves; every field is a command-line flag of ``hosepipe relay``."""

    buffer: int = 256 * 1024  # bytes held per direction, at most
    zero_copy: bool = True  # splice where the kernel can
    linger: float | None = None  # seconds the second direction gets after the first
    idle_timeout: float | None = None  # end after this long with no bytes either way
    connect_timeout: float = 10.0


@dataclass
class RelayResult:
    """What a relay did: bytes each way, how long, why it ended, what failed."""

    forward: int = 0  # A to B
    backward: int = 0  # B to A
    seconds: float = 0.0
    reason: str = "ended"  # ended, linger, idle, stopped, interrupted
    errors: list[str] = field(default_factory=list)
    spliced: int = 0  # of forward + backward, the bytes moved without a copy


class _Loop:
    """The poll loop over one relay's descriptors."""

    def __init__(self, a: End, b: End, options: RelayOptions, dump: Dump | None,
                 stop_fd: int | None) -> None:
        def spy(arrow: str) -> Callable[[bytes, int], None] | None:
            return None if dump is None else (lambda data, at: dump.chunk(arrow, data, at))

        self.ends = (a, b)
        self.directions = (
            Direction(a, b, buffer=options.buffer, zero_copy=options.zero_copy, on_data=spy(">")),
            Direction(b, a, buffer=options.buffer, zero_copy=options.zero_copy, on_data=spy("<")),
        )
        self.options = options
        self.linger = options.linger
        if self.linger is None and (a.datagram or b.datagram):
            self.linger = DATAGRAM_LINGER
        self.selector = selectors.PollSelector()  # poll, not epoll: stdin may be a file
        self.stop_fd = stop_fd
        if stop_fd is not None:
            self.selector.register(stop_fd, READ)
        self.wanted: dict[int, int] = {}
        self.total, self.moved_at = 0, time.monotonic()
        self.first_done: float | None = None

    def run(self) -> str:
        """Move bytes until both directions end; the reason the loop stopped."""
        while not all(d.done for d in self.directions):
            now = time.monotonic()
            self._note_progress(now)
            deadline, reason = self._deadline()
            if deadline is not None and now >= deadline:
                return reason
            self._register()
            timeout = 0.0 if self._tls_buffered() else (
                None if deadline is None else deadline - now)
            if self._dispatch(self.selector.select(timeout)):
                return "stopped"
        return "ended"

    def _note_progress(self, now: float) -> None:
        """When a byte last moved, and when the first direction ended."""
        total = sum(d.read + d.moved for d in self.directions)
        if total != self.total:
            self.total, self.moved_at = total, now
        if self.first_done is None and any(d.done for d in self.directions):
            self.first_done = now

    def _deadline(self) -> tuple[float | None, str]:
        candidates = []
        if self.options.idle_timeout is not None:
            candidates.append((self.moved_at + self.options.idle_timeout, "idle"))
        if self.linger is not None and self.first_done is not None:
            candidates.append((self.first_done + self.linger, "linger"))
        return min(candidates) if candidates else (None, "")

    def _register(self) -> None:
        wanted: dict[int, int] = {}
        for d in self.directions:
            if d.wants_read():
                wanted[d.src.read_fd] = wanted.get(d.src.read_fd, 0) | READ
            if d.wants_write():
                wanted[d.dst.write_fd] = wanted.get(d.dst.write_fd, 0) | WRITE
        for fd in self.wanted.keys() - wanted.keys():
            self.selector.unregister(fd)
        for fd, events in wanted.items():
            if fd not in self.wanted:
                self.selector.register(fd, events)
            elif self.wanted[fd] != events:
                self.selector.modify(fd, events)
        self.wanted = wanted

    def _tls_buffered(self) -> bool:
        return any(d.wants_read() and d.src.buffered() for d in self.directions)

    def _dispatch(self, events: list[tuple[selectors.SelectorKey, int]]) -> bool:
        """Serve ready descriptors; True when the stop descriptor fired."""
        ready = {key.fd: mask for key, mask in events}
        if self.stop_fd is not None and self.stop_fd in ready:
            return True
        for d in self.directions:
            if (ready.get(d.src.read_fd, 0) & READ or d.src.buffered()) and d.wants_read():
                d.on_readable()
            if ready.get(d.dst.write_fd, 0) & WRITE and d.wants_write():
                d.on_writable()
        return False

    def close(self) -> None:
        self.selector.close()
        for d in self.directions:
            d.close()


def relay_streams(a: Endpoint, b: Endpoint, options: RelayOptions | None = None, *,
                  dump: Dump | None = None, stop_fd: int | None = None) -> RelayResult:
    """Relay two connected ends both ways until both directions end; close both.

    ``dump`` shows every chunk and the closing line; ``stop_fd``, when readable, ends
    the relay early (reason ``stopped``). Ctrl-C ends it too (``interrupted``), after
    the ends are closed and the closing line written, and is raised again.
    """
    options = options or RelayOptions()
    ends = (as_end(a), as_end(b))
    started = time.monotonic()
    result = RelayResult()
    loop = _Loop(*ends, options, dump, stop_fd)
    try:
        result.reason = loop.run()
    except KeyboardInterrupt:
        result.reason = "interrupted"
        raise
    finally:
        loop.close()
        for end in ends:
            end.close(abort=result.reason != "ended")
        forward, backward = loop.directions
        result.forward, result.backward = forward.moved, backward.moved
        result.seconds = time.monotonic() - started
        result.errors = [d.error for d in loop.directions if d.error]
        result.spliced = forward.spliced + backward.spliced
        if dump is not None:
            note = "; ".join([*([] if result.reason == "ended" else [result.reason]),
                              *result.errors])
            dump.closed(result.forward, result.backward, result.seconds, note)
    return result


def relay(a: str | Address, b: str | Address, options: RelayOptions | None = None, *,
          dump: Dump | None = None) -> RelayResult:
    """Connect ``a``, then ``b``, and relay them (see :func:`relay_streams`)."""
    options = options or RelayOptions()
    first = open_end(a, timeout=options.connect_timeout)
    try:
        second = open_end(b, timeout=options.connect_timeout)
    except BaseException:
        first.close(abort=True)
        raise
    return relay_streams(first, second, options, dump=dump)
