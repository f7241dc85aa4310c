"""What every server model shares: bindings, connection accounting, logging, the hook.

A :class:`Binding` is one service on one address under one model, with its limits.
A model is a :class:`Model`: the hub (:mod:`hosepipe.servers.hub`) accepts a
connection and calls ``model.accepted(binding, sock, peer)``; what the model does
with it (run it now, hand it to a thread, fork, or register it in the loop) is the only
thing that differs between models, as in :mod:`socketserver`'s ``process_request``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from hosepipe.address import Address
from hosepipe.limits import Limits
from hosepipe.service import Context, Conversation, Service
from hosepipe.services.gate import AuthGate

__all__ = ["Binding", "Model", "RateLimitedLog", "Tally", "peer_name"]

log = logging.getLogger("hosepipe.server")


@dataclass(eq=False)
class Binding:
    """One service on one address, served under one model."""

    service: Service
    address: Address
    model: str
    limits: Limits = field(default_factory=Limits)
    label: str = ""
    sock: socket.socket | None = None
    bound: str = ""
    active: int = 0

    def __post_init__(self) -> None:
        self.label = self.label or self.service.name
        self._lock = threading.Lock()
        self._per_host: dict[str, int] = {}
        self.rates = SourceRate(self.limits.udp_rate)

    authkey: bytes | None = None
    allow_md5: bool = True
    tls: ssl.SSLContext | None = None
    no_amplify: bool = False

    def context(self, peer: str) -> Context:
        return Context(peer=peer, local=self.bound, limits=self.limits)

    def conversation(self, context: Context) -> Conversation:
        """A new conversation for ``context``'s connection, behind the binding's gates."""
        peer = context.peer
        if self.authkey is None:
            return self.service.conversation(context)
        return AuthGate(context, self.service.conversation, authkey=self.authkey,
                        allow_md5=self.allow_md5,
                        on_failure=lambda reason: limit_log.warning(
                            f"auth:{self.bound}", "%s %s: %s failed the authkey challenge: %s",
                            self.label, self.bound, peer, reason))

    def try_enter(self, peer: str) -> bool:
        """Count a new connection from ``peer`` in, unless a limit says no (then log it,
        rate-limited, and return False: the caller closes the connection)."""
        host = peer_host(peer)
        with self._lock:
            refused = None
            if self.active >= self.limits.max_connections:
                refused = "max_connections"
            elif host is not None and self._per_host.get(host, 0) >= self.limits.max_per_client:
                refused = "max_per_client"
            else:
                self.active += 1
                if host is not None:
                    self._per_host[host] = self._per_host.get(host, 0) + 1
                return True
        limit_log.warning(f"{refused}:{self.bound}", "%s %s: refused %s: %s is %d", self.label,
                          self.bound, peer, refused, getattr(self.limits, refused))
        return False

    def leave(self, peer: str) -> None:
        """The connection from ``peer`` (as given to :meth:`try_enter`) has ended."""
        host = peer_host(peer)
        with self._lock:
            self.active -= 1
            if host is not None:
                left = self._per_host[host] - 1
                if left:
                    self._per_host[host] = left
                else:
                    del self._per_host[host]


def peer_host(peer: str) -> str | None:
    """The IP address part of ``host:port`` / ``[v6]:port``; None for Unix peers."""
    host, sep, port = peer.rpartition(":")
    return host.strip("[]") if sep and port.isdigit() else None


def peer_name(sockaddr: object) -> str:
    """``host:port`` for an inet peer, ``[v6]:port`` for IPv6, ``unix`` otherwise."""
    if isinstance(sockaddr, tuple):
        host, port = sockaddr[0], sockaddr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return "unix-peer"


class Tally:
    """One connection's accounting: counted in when made (the caller has passed
    :meth:`Binding.try_enter`), its log lines, and counted out exactly once by
    :meth:`done` (a driver's ``on_done``)."""

    __slots__ = ("binding", "ended", "peer", "started")

    def __init__(self, binding: Binding, peer: str) -> None:
        self.binding = binding
        self.peer = peer
        self.started = time.monotonic()
        self.ended = False
        log.info("%s %s: connection from %s", binding.label, binding.bound, peer)

    @property
    def label(self) -> str:
        return f"{self.binding.label} {self.binding.bound}: {self.peer}"

    def done(self, reason: str, received: int | None = None, sent: int | None = None) -> None:
        """The connection is over: log why (and the bytes each way, when counted) and
        count it out of the binding."""
        if self.ended:
            return
        self.ended = True
        elapsed = time.monotonic() - self.started
        counts = "" if received is None else f" ({received} B in, {sent} B out)"
        log.info("%s %s after %.3f s%s", self.label, reason, elapsed, counts)
        self.binding.leave(self.peer)


class RateLimitedLog:
    """Log a recurring warning at most once per ``interval`` seconds, with a count."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e9) < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            extra = self._suppressed.pop(key, 0)
        suffix = f" ({extra} more like this suppressed)" if extra else ""
        log.warning(message + suffix, *args)


limit_log = RateLimitedLog()


class SourceRate:
    """A token bucket per source address: ``rate`` per second, bursts of ``2 * rate``.

    Bounds what one address can make a datagram service send (a spoofed source cannot
    turn the server into a flood). At most ``MAX_SOURCES`` addresses are remembered;
    the least recently seen are forgotten first.
    """

    MAX_SOURCES = 10_000

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = 2 * rate
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        self._buckets[source] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.MAX_SOURCES:
            self._buckets.popitem(last=False)
        return allowed


def datagram_reply(binding: Binding, data: bytes, peer: str) -> bytes | None:
    """What to answer a datagram with, after the rate limit and amplification rules."""
    host = peer_host(peer) or peer
    if not binding.rates.allow(host):
        limit_log.warning(f"udp-rate:{binding.bound}", "%s %s: %s is over udp_rate (%g/s); "
                          "datagrams dropped", binding.label, binding.bound, host,
                          binding.limits.udp_rate)
        return None
    reply = binding.service.datagram(data, peer)
    strict = binding.no_amplify or not binding.service.amplifies
    if reply is not None and strict and len(reply) > len(data):
        limit_log.warning(f"udp-amp:{binding.bound}", "%s %s: a %d-byte reply to a %d-byte "
                          "datagram from %s was not sent (no_amplify)", binding.label,
                          binding.bound, len(reply), len(data), host)
        return None
    return reply


class Model:
    """How accepted connections are driven. The hub calls these from its loop."""

    name = "model"

    def accepted(self, binding: Binding, sock: socket.socket, peer: str) -> None:
        """Take ownership of a connected socket (the binding has counted it in)."""
        raise NotImplementedError

    def active(self) -> int:
        """Conversations still running."""
        raise NotImplementedError

    def tick(self) -> None:
        """Housekeeping (reaping children): after each signal, and at least twice a
        second."""

    def stop_requested(self, grace: float) -> None:
        """Shutdown began: finish in-flight work within ``grace`` seconds."""

    def interrupt(self, grace: float, *, hurry: bool) -> None:
        """A stop was requested, from any thread or a signal handler, maybe while this
        model holds the hub's own thread (iterative): make sure what runs ends within
        ``grace`` seconds, or now if ``hurry``. Must only set state or start timers."""

    def abort(self) -> None:
        """The grace period is over: end every remaining conversation now."""

    def close(self) -> None:
        """Release workers; after this, nothing of the model runs."""
