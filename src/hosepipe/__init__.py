"""hosepipe: client/server conversations between processes, over any wire.

A service is a conversation that never touches a socket; the same service runs over
TCP, UDP, Unix sockets, FIFOs, serial lines, pipes or a program's stdio, under an
iterative, threaded, forking, select-based or asyncio server. See the README for a tour.

The names below are imported when first used (PEP 562), so that ``import
hosepipe.wire`` -- the sans-I/O core -- loads no socket, selector, thread or event
loop module, and the command line starts quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_WHERE = {
    "CLOSE": "hosepipe.service",
    "PENDING": "hosepipe.service",
    "Action": "hosepipe.service",
    "Close": "hosepipe.service",
    "Context": "hosepipe.service",
    "Conversation": "hosepipe.service",
    "Send": "hosepipe.service",
    "SendFile": "hosepipe.service",
    "Service": "hosepipe.service",
    "Address": "hosepipe.address",
    "parse_address": "hosepipe.address",
    "AsyncClient": "hosepipe.client",
    "Client": "hosepipe.client",
    "LineClient": "hosepipe.client",
    "ConnectError": "hosepipe.errors",
    "ConnectionClosed": "hosepipe.errors",
    "HosepipeError": "hosepipe.errors",
    "ProtocolError": "hosepipe.errors",
    "RemoteError": "hosepipe.errors",
    "ServiceError": "hosepipe.errors",
    "Timeout": "hosepipe.errors",
    "TransportError": "hosepipe.errors",
    "UsageError": "hosepipe.errors",
    "Limits": "hosepipe.limits",
    "MODELS": "hosepipe.servers",
    "Binding": "hosepipe.servers",
    "Superserver": "hosepipe.servers",
    "ClassicConversation": "hosepipe.conversations.classic",
    "MessageService": "hosepipe.conversations.messages",
    "make_service": "hosepipe.services",
    "AsyncRoomClient": "hosepipe.room.client",
    "RoomClient": "hosepipe.room.client",
    "RoomEvent": "hosepipe.room.client",
}

__all__ = [
    "CLOSE",
    "MODELS",
    "PENDING",
    "Action",
    "Address",
    "AsyncClient",
    "AsyncRoomClient",
    "Binding",
    "ClassicConversation",
    "Client",
    "Close",
    "ConnectError",
    "ConnectionClosed",
    "Context",
    "Conversation",
    "HosepipeError",
    "Limits",
    "LineClient",
    "MessageService",
    "ProtocolError",
    "RemoteError",
    "RoomClient",
    "RoomEvent",
    "Send",
    "SendFile",
    "Service",
    "ServiceError",
    "Superserver",
    "Timeout",
    "TransportError",
    "UsageError",
    "__version__",
    "classic",
    "make_service",
    "parse_address",
    "serve",
]

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from hosepipe import classic
    from hosepipe.address import Address, parse_address
    from hosepipe.client import AsyncClient, Client, LineClient
    from hosepipe.conversations.classic import ClassicConversation
    from hosepipe.conversations.messages import MessageService
    from hosepipe.errors import (
        ConnectError,
        ConnectionClosed,
        HosepipeError,
        ProtocolError,
        RemoteError,
        ServiceError,
        Timeout,
        TransportError,
        UsageError,
    )
    from hosepipe.limits import Limits
    from hosepipe.room.client import AsyncRoomClient, RoomClient, RoomEvent
    from hosepipe.servers import MODELS, Binding, Superserver
    from hosepipe.service import (
        CLOSE,
        PENDING,
        Action,
        Close,
        Context,
        Conversation,
        Send,
        SendFile,
        Service,
    )
    from hosepipe.services import make_service


def __getattr__(name: str) -> Any:
    if name == "classic":
        return importlib.import_module("hosepipe.classic")
    if name not in _WHERE:
        raise AttributeError(f"module 'hosepipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # the next access is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return __all__


def serve(
    service: Service | str,
    address: str | Address,
    *,
    model: str = "select",
    limits: Limits | None = None,
    **options: Any,
) -> None:
    """Serve one service on one address until SIGTERM/SIGINT (in the main thread).

    ``service`` is a :class:`Service` instance or a spec (``"echo"``,
    ``"pkg.mod:Class"``, ``"exec:CMD"``); ``options`` go to a spec's constructor.
    """
    from hosepipe.limits import Limits  # noqa: PLC0415 - lazy, as the whole package
    from hosepipe.servers import Binding, Superserver  # noqa: PLC0415
    from hosepipe.services import make_service  # noqa: PLC0415

    if isinstance(service, str):
        service = make_service(service, options)
    binding = Binding(service=service, address=address, model=model,
                      limits=limits or Limits())
    Superserver([binding]).run()
