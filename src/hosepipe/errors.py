"""One exception tree for hosepipe.

Local faults (you asked for something impossible) are kept apart from remote ones
(the peer or the network did something wrong), so callers can catch what they can
handle::

    HosepipeError
    ├── UsageError              local: bad argument, address or configuration
    │   ├── AddressError        an address string that does not parse
    │   └── ConfigError         a config file or service spec that does not load
    ├── ProtocolError           remote: bytes that break the wire contract
    │   ├── FrameTooLarge       a frame header announcing more than the limit
    │   ├── LineTooLong         a line longer than the limit
    │   ├── BufferOverflow      more buffered input than the receive cap
    │   └── CodecError          a payload the agreed codec cannot decode or encode
    ├── TransportError          remote: the connection itself failed
    │   ├── ConnectError        could not connect or bind
    │   ├── ConnectionClosed    the peer closed (or vanished) mid-conversation
    │   └── Timeout             a deadline passed (idle peer, peer not reading)
    └── ServiceError            a structured error: code and message (RemoteError)

A :class:`ServiceError` is one class for both ends of a request: a handler raises it to
answer with an error, and a client raises it (by its other name, :data:`RemoteError`)
when a service answered with one.

Every wrapped OS error is raised ``from`` the original, so tracebacks keep the cause.
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "BufferOverflow",
    "CodecError",
    "ConfigError",
    "ConnectError",
    "ConnectionClosed",
    "FrameTooLarge",
    "HosepipeError",
    "LineTooLong",
    "ProtocolError",
    "RemoteError",
    "ServiceError",
    "Timeout",
    "TransportError",
    "UsageError",
    "reason_of",
]


def reason_of(exc: BaseException) -> str:
    """A short human reason for an OS or TLS error, for the messages we raise from it."""
    return (getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            or type(exc).__name__)


class HosepipeError(Exception):
    """Base of every error hosepipe raises on purpose."""


class UsageError(HosepipeError):
    """A local mistake: an argument, address or setting that cannot work."""


class AddressError(UsageError, ValueError):
    """An address string that does not parse."""


class ConfigError(UsageError):
    """A configuration file, option or service specification that does not load."""


class ProtocolError(HosepipeError):
    """The peer sent bytes that break the wire contract."""


class FrameTooLarge(ProtocolError):
    """A frame header announced a payload larger than the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class LineTooLong(ProtocolError):
    """A line grew past the configured maximum before its terminator arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"line longer than the limit of {limit} bytes")
        self.limit = limit


class BufferOverflow(ProtocolError):
    """More input was buffered than the receive buffer's hard cap allows."""


class CodecError(ProtocolError):
    """A payload that the agreed codec cannot decode (or a value it cannot encode)."""


class TransportError(HosepipeError):
    """The connection failed underneath the conversation."""


class ConnectError(TransportError):
    """Could not connect to, or bind, an address."""


class ConnectionClosed(TransportError):
    """The peer closed the connection, or it vanished, before the conversation ended."""


class Timeout(TransportError):
    """A deadline passed: the peer was idle too long or stopped reading."""


class ServiceError(HosepipeError):
    """A structured error, ``code`` (such as ``not-found``) and ``message``: raised by a
    handler to answer with it, raised by a client when a service answered with it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


RemoteError = ServiceError
"""The name clients catch: the service at the other end answered with this error."""
