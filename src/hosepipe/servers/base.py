"""What every server model shares: bindings, connection accounting, logging, the hook.

A :class:`Binding` describes one service on one address under one model, with its
limits and gates (an authkey, TLS): a frozen value, built from the command line, a
config file or code. Once the superserver has opened it, a :class:`Bound` is its live
state, owned by the hub: the listener (or endpoint), the address actually bound, the
connections counted in and out.

A model is a :class:`Model`: the hub accepts a connection and calls
``model.accepted(bound, stream, peer)``; what the model does with it (run it in the
hub's loop, one at a time or many, hand it to a thread, fork) is the only thing that
differs between models, as in :mod:`socketserver`'s ``process_request``. Each model
then runs a :class:`~hosepipe.driving.driver.Driver` for the connection.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from hosepipe.address import Address, parse_address
from hosepipe.gate import AuthGate
from hosepipe.limits import Limits
from hosepipe.ratelog import RateLimitedLog, limit_log
from hosepipe.service import Context, Conversation, Service
from hosepipe.transports.base import Endpoint, Listener, Stream
from hosepipe.transports.listen import peer_name

__all__ = ["Binding", "Bound", "Model", "RateLimitedLog", "Tally", "peer_name"]

log = logging.getLogger("hosepipe.server")


@dataclass(frozen=True, eq=False)
class Binding:
    """One service on one address, served under one model. ``address`` may be text."""

    service: Service
    address: Address | str
    model: str = "select"
    limits: Limits = field(default_factory=Limits)
    label: str = ""
    authkey: bytes | None = None
    allow_md5: bool = True
    tls: ssl.SSLContext | None = None
    no_amplify: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", parse_address(self.address))
        object.__setattr__(self, "label", self.label or self.service.name)

    @property
    def where(self) -> Address:
        """The address, parsed (``address`` is always parsed after construction)."""
        return self.address  # type: ignore[return-value]


class Bound:
    """A binding being served: its listener or endpoint, the address it got, and the
    connections counted in (thread-safe: workers count out)."""

    def __init__(self, binding: Binding, listener: Listener | Endpoint) -> None:
        self.binding = binding
        self.listener: Listener | Endpoint | None = listener
        self.local = listener.bound  # the address actually bound: port 0 made real
        self.active = 0
        self._lock = threading.Lock()
        self._per_host: dict[str, int] = {}
        self.rates = SourceRate(binding.limits.udp_rate)
        self.on_leave: list[object] = []  # callbacks when a connection is counted out

    # what models read, from the binding
    @property
    def service(self) -> Service:
        return self.binding.service

    @property
    def limits(self) -> Limits:
        return self.binding.limits

    @property
    def label(self) -> str:
        return self.binding.label

    @property
    def model(self) -> str:
        return self.binding.model

    @property
    def tls(self) -> ssl.SSLContext | None:
        return self.binding.tls

    @property
    def address(self) -> Address:
        return self.binding.where

    @property
    def is_endpoint(self) -> bool:
        return isinstance(self.listener, Endpoint)

    def context(self, peer: str, *, offload: bool = False) -> Context:
        """``offload``: the conversation runs on a loop shared by many connections."""
        return Context(peer=peer, local=self.local, limits=self.limits, offload=offload)

    def conversation(self, context: Context) -> Conversation:
        """A new conversation for ``context``'s connection, behind the binding's gates."""
        peer = context.peer
        binding = self.binding
        if binding.authkey is None:
            return binding.service.conversation(context)
        return AuthGate(context, binding.service.conversation, authkey=binding.authkey,
                        allow_md5=binding.allow_md5,
                        on_failure=lambda reason: limit_log.warning(
                            f"auth:{self.local}", "%s %s: %s failed the authkey challenge: %s",
                            self.label, self.local, peer, reason))

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
        limit_log.warning(f"{refused}:{self.local}", "%s %s: refused %s: %s is %d", self.label,
                          self.local, peer, refused, getattr(self.limits, refused))
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
        for callback in self.on_leave:
            callback()  # type: ignore[operator]

    def close(self) -> None:
        """Stop listening (remove socket files) or release the endpoint."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()


def peer_host(peer: str) -> str | None:
    """The IP address part of ``host:port`` / ``[v6]:port``; None for Unix peers."""
    host, sep, port = peer.rpartition(":")
    return host.strip("[]") if sep and port.isdigit() else None


class Tally:
    """One connection's accounting: counted in when made (the caller has passed
    :meth:`Binding.try_enter`), its log lines, and counted out exactly once by
    :meth:`done`. A tally is its driver's ``on_done`` itself (calling it is
    :meth:`done`), rather than a bound method made for each connection."""

    __slots__ = ("bound", "ended", "peer", "started")

    def __init__(self, bound: Bound, peer: str) -> None:
        self.bound = bound
        self.peer = peer
        self.started = time.monotonic()
        self.ended = False
        log.info("%s %s: connection from %s", bound.label, bound.local, peer)

    @property
    def label(self) -> str:
        return f"{self.bound.label} {self.bound.local}: {self.peer}"

    def __str__(self) -> str:  # a driver's label: made only when a line is logged
        return self.label

    def done(self, reason: str, received: int | None = None, sent: int | None = None) -> None:
        """The connection is over: log why (and the bytes each way, when counted) and
        count it out of the binding."""
        if self.ended:
            return
        self.ended = True
        elapsed = time.monotonic() - self.started
        counts = "" if received is None else f" ({received} B in, {sent} B out)"
        log.info("%s %s after %.3f s%s", self.label, reason, elapsed, counts)
        self.bound.leave(self.peer)

    __call__ = done





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


def datagram_reply(bound: Bound, data: bytes, peer: str) -> bytes | None:
    """What to answer a datagram with, after the rate limit and amplification rules."""
    host = peer_host(peer) or peer
    if not bound.rates.allow(host):
        limit_log.warning(f"udp-rate:{bound.local}", "%s %s: %s is over udp_rate (%g/s); "
                          "datagrams dropped", bound.label, bound.local, host,
                          bound.limits.udp_rate)
        return None
    reply = bound.service.datagram(data, peer)
    strict = bound.binding.no_amplify or not bound.service.amplifies
    if reply is not None and strict and len(reply) > len(data):
        limit_log.warning(f"udp-amp:{bound.local}", "%s %s: a %d-byte reply to a %d-byte "
                          "datagram from %s was not sent (no_amplify)", bound.label,
                          bound.local, len(reply), len(data), host)
        return None
    return reply


class Model:
    """How accepted connections are driven. The hub calls these from its loop."""

    name = "model"

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        """Take ownership of a connected stream (counted in by ``bound`` already) and
        serve it: in the hub's loop, on a thread, in a child process."""
        raise NotImplementedError

    def active(self) -> int:
        """Conversations still running."""
        raise NotImplementedError

    def tick(self) -> None:
        """Housekeeping (reaping children): after each signal, and at least twice a
        second."""

    def stop_requested(self, grace: float) -> None:
        """Shutdown began: finish in-flight work within ``grace`` seconds."""

    def abort(self) -> None:
        """The grace period is over: end every remaining conversation now."""

    def close(self) -> None:
        """Release workers; after this, nothing of the model runs."""
