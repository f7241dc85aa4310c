"""Limits every server model enforces, with their defaults.

One frozen value, built once from flags or the config file and validated when built,
so a server never runs with a limit that makes no sense. Times are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from hosepipe.errors import ConfigError
from hosepipe.wire.framing import MAX_FRAME, MAX_LINE

__all__ = ["Limits"]


MAY_BE_ZERO = frozenset({"grace"})  # no grace: in-flight work ends at once


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-binding limits. Every field has a flag on ``hosepipe serve``."""

    max_connections: int = 1024
    """Connections served at once per binding; more are accepted and closed at once."""
    max_per_client: int = 64
    """Connections at once from one client IP address, per binding (Unix sockets: no limit)."""
    max_frame: int = MAX_FRAME
    """Largest frame payload accepted, in bytes; a larger header closes the connection."""
    max_line: int = MAX_LINE
    """Longest classic message or line, in bytes."""
    idle_timeout: float = 300.0
    """A connection that sends nothing for this long is closed."""
    message_timeout: float = 60.0
    """A message must arrive whole within this long of its first byte (slowloris)."""
    send_timeout: float = 30.0
    """A peer that accepts none of our bytes for this long is closed."""
    pause: float = 0.05
    """With ``keep_pausing``: quiet time after which an unterminated classic message
    counts as whole."""
    keep_pausing: bool = False
    """End every bare classic message by the pause, not by the receive it came in: for
    peers that send one bare message in several writes, or a first line in pieces. Off:
    until a peer has sent a newline, one receive is one message (as the tutorials'
    servers take one ``recv()``), so a bare client never waits."""
    threads: int = 64
    """Worker threads of the thread model (shared by its bindings)."""
    thread_idle: float = 5.0
    """A worker thread idle this many seconds ends (the pool grows again on demand)."""
    worker_rest: float = 1.0
    """Thread model: a connection quiet this long (nothing held) gives its worker back and
    waits in the loop until its peer speaks again, so idle peers hold no thread."""
    grace: float = 5.0
    """On SIGTERM/SIGINT, how long in-flight conversations may go on."""
    udp_rate: float = 100.0
    """Datagrams answered per second per source address (bursts up to twice that)."""
    max_preauth: int = 256
    """Largest message accepted before the authkey challenge is passed (the stdlib's 256)."""
    handshake_timeout: float = 10.0
    """Seconds a peer gets for each step of the authkey (and TLS) handshake."""
    high_water: int = 256 * 1024
    """Bytes of output queued for one connection past which the server reads no more
    from it and answers no more of its pipelined requests until the output drains."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type in (bool, "bool"):
                if not isinstance(value, bool):
                    raise ConfigError(f"limit {field.name} must be true or false, not {value!r}")
                continue
            zero_ok = field.name in MAY_BE_ZERO
            if not isinstance(value, int | float) or isinstance(value, bool) or (
                    value < 0 if zero_ok else value <= 0):
                wanted = "a number, not negative" if zero_ok else "a positive number"
                raise ConfigError(f"limit {field.name} must be {wanted}, not {value!r}")

    def updated(self, **changes: Any) -> Limits:
        """A copy with ``changes`` applied (``None`` values ignored), validated."""
        known = {field.name for field in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
