"""hosepipe: client/server conversations between processes, over any wire.

A service is a conversation that never touches a socket; the same service runs over
TCP, UDP, Unix sockets, pipes or a program's stdio, under an iterative, threaded,
forking, select-based or asyncio server. See the README for a tour.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from hosepipe import classic
from hosepipe.address import Address, parse_address
from hosepipe.client import AsyncClient, Client, LineClient
from hosepipe.errors import (
    ConnectError,
    ConnectionClosed,
    HosepipeError,
    ProtocolError,
    RemoteError,
    Timeout,
    TransportError,
    UsageError,
)
from hosepipe.limits import Limits
from hosepipe.servers import MODELS, Binding, Superserver
from hosepipe.service import (
    CLOSE,
    Action,
    Close,
    Context,
    Conversation,
    Send,
    SendFile,
    Service,
    ServiceError,
)
from hosepipe.services import make_service
from hosepipe.services.classic import ClassicConversation
from hosepipe.services.message import MessageService

__all__ = [
    "CLOSE",
    "MODELS",
    "Action",
    "Address",
    "AsyncClient",
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
    "parse_address",
    "serve",
]


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
    if isinstance(service, str):
        service = make_service(service, options)
    binding = Binding(service=service, address=parse_address(address), model=model,
                      limits=limits or Limits())
    Superserver([binding]).run()
