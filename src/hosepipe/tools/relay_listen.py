"""``hosepipe relay --listen A B``: every connection accepted on A relayed to a new B.

INTERIM. The issue asks for ``--listen`` "under any server model and with its
limits": a relay should be an ordinary hosepipe service that the superserver runs
under iterative, thread, fork, select or async. That needs a conversation that can
send at any time (B's bytes arrive whenever B sends them), which the core cannot do
yet; the lead is adding server push, and will then move ``--listen`` onto the models.
Until then this module does the least that is honest: one listener from
:func:`hosepipe.transports.listen.open_listener`, an accept loop in the calling thread,
and :func:`~hosepipe.tools.relay.relay_streams` per connection on a thread pool of at
most ``max_connections`` threads. A connection over that limit is accepted and closed
at once (logged, rate-limited), as the superserver does.

Ctrl-C or SIGTERM (the CLI turns it into KeyboardInterrupt) closes the listener, gives
the relays in flight ``grace`` seconds to end, ends the rest through a shared stop pipe
(:meth:`Listener.stop` does that at once, from any thread), waits for the threads, and
returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from hosepipe.address import Address, parse_address
from hosepipe.errors import HosepipeError, UsageError
from hosepipe.ratelog import RateLimitedLog
from hosepipe.tools.ends import End, open_end
from hosepipe.tools.hexdump import Dump
from hosepipe.tools.relay import RelayOptions, relay_streams
from hosepipe.transports.base import Listener as SocketsListener
from hosepipe.transports.base import Stream
from hosepipe.transports.listen import is_transient_accept_error, open_listener
from hosepipe.transports.streams import SocketStream
from hosepipe.transports.tls import secure_accepted

__all__ = ["Listener", "relay_listen"]

log = logging.getLogger("hosepipe.relay")
limited = RateLimitedLog()


class Listener:
    """Accepts on one address and relays each connection to a new connection to B."""

    def __init__(self, listen: str | Address, target: str | Address,
                 options: RelayOptions | None = None, *, max_connections: int = 1024,
                 grace: float = 5.0, dump_to: TextIO | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        if max_connections < 1:
            raise UsageError("--max-connections must be at least 1")
        if grace < 0:
            raise UsageError("--grace must not be negative")
        self.address = parse_address(listen)
        if self.address.is_datagram or self.address.scheme not in ("tcp", "tls", "unix"):
            raise UsageError(f"--listen takes a tcp://, tls:// or unix:// address, "
                             f"not {self.address}")
        if self.address.scheme == "tls" and tls is None:
            raise UsageError("--listen tls://... needs --cert (and --key if separate)")
        self.target = parse_address(target)
        self.options = options or RelayOptions()
        self.max_connections = max_connections
        self.dump_to = dump_to
        self.tls = tls
        listener = open_listener(self.address)
        assert isinstance(listener, SocketsListener)  # tcp, tls and unix listen
        self.listener = listener
        self.bound = listener.bound
        self._stop_r, self._stop_w = os.pipe()
        self.grace = grace
        self._active = 0
        self._count = 0
        self._lock = threading.Condition()

    def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Accept until interrupted (KeyboardInterrupt) or :meth:`stop`."""
        pool = ThreadPoolExecutor(self.max_connections, thread_name_prefix="relay")
        selector = selectors.PollSelector()
        selector.register(self.listener.fileno(), selectors.EVENT_READ)
        selector.register(self._stop_r, selectors.EVENT_READ)
        if on_ready is not None:
            on_ready(self.bound)
        try:
            while not any(key.fd == self._stop_r for key, _ in selector.select()):
                self._accept(pool)
        finally:
            selector.close()
            self.listener.close()  # new clients are refused from here
            try:
                with self._lock:  # relays in flight get the grace period to end
                    self._lock.wait_for(lambda: self._active == 0, self.grace)
            finally:
                self.stop()
                pool.shutdown(wait=True)
                os.close(self._stop_r)
                os.close(self._stop_w)

    def stop(self) -> None:
        """End the accept loop and every relay in flight (from any thread)."""
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")  # never read: stays readable for every loop

    def _accept(self, pool: ThreadPoolExecutor) -> None:
        try:
            accepted = self.listener.accept_nowait()
        except OSError as exc:
            if not is_transient_accept_error(exc):
                raise
            return
        if accepted is None:
            return
        conn, peer = accepted
        with self._lock:
            if self._active >= self.max_connections:
                limited.warning("full", "relay %s: %d connections already; one refused",
                                self.bound, self._active)
                conn.close()
                return
            self._active += 1
            self._count += 1
            number = self._count
        pool.submit(self._relay_one, conn, peer, number)

    def _relay_one(self, conn: Stream, peer: str, number: int) -> None:
        try:
            assert isinstance(conn, SocketStream)  # what tcp, tls and unix listeners accept
            sock = conn.sock
            if self.tls is not None:
                sock = secure_accepted(sock, self.tls, self.options.connect_timeout)
            first = End(peer, sock=sock)
            try:
                second = open_end(self.target, timeout=self.options.connect_timeout)
            except BaseException:
                first.close()
                raise
            log.info("relay #%d: %s -> %s", number, peer, self.target)
            dump = Dump(self.dump_to, number) if self.dump_to is not None else None
            result = relay_streams(first, second, self.options, dump=dump,
                                   stop_fd=self._stop_r)
            log.info("relay #%d: %s after %.3f s (> %d B, < %d B)%s", number, result.reason,
                     result.seconds, result.forward, result.backward,
                     "".join(f"; {e}" for e in result.errors))
        except HosepipeError as exc:
            log.warning("relay #%d from %s: %s", number, peer, exc)
        except Exception:
            log.exception("relay #%d from %s failed", number, peer)
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()


def relay_listen(listen: str | Address, target: str | Address,
                 options: RelayOptions | None = None, *, max_connections: int = 1024,
                 grace: float = 5.0, dump_to: TextIO | None = None,
                 tls: ssl.SSLContext | None = None,
                 on_ready: Callable[[str], None] | None = None) -> None:
    """Listen on ``listen`` and relay each connection to a new connection to ``target``."""
    Listener(listen, target, options, max_connections=max_connections, grace=grace,
             dump_to=dump_to, tls=tls).serve(on_ready)
