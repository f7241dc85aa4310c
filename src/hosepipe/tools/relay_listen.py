"""``hosepipe relay --listen A B``: every connection accepted on A relayed to a new B.

A superserver with one binding: the :class:`~hosepipe.tools.relay_service.Relay`
service on A. The superserver brings its life cycle (signal handlers before the
readiness line; SIGTERM or Ctrl-C stop accepting at once and give relays in flight the
grace period; a second signal ends them at once), its limits (``max_connections``,
``max_per_client``: a connection over them is accepted and closed, logged at a bounded
rate) and ``--workers``. A tls:// A is listened on as TCP and the handshake runs on
the relay's own thread, so a slow handshake holds up no one else.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TextIO

from hosepipe.address import Address, parse_address
from hosepipe.errors import UsageError
from hosepipe.limits import Limits
from hosepipe.servers.base import Binding, Bound
from hosepipe.servers.prefork import serve_until_stopped
from hosepipe.servers.superserver import Superserver
from hosepipe.tools.relay import RelayOptions
from hosepipe.tools.relay_service import Relay

__all__ = ["listen_address", "relay_listen"]


def listen_address(listen: str | Address, tls: ssl.SSLContext | None) -> Address:
    """A, checked: a stream listener; tls:// only with a certificate."""
    address = parse_address(listen)
    if address.is_datagram or address.scheme not in ("tcp", "tls", "unix"):
        raise UsageError(f"--listen takes a tcp://, tls:// or unix:// address, not {address}")
    if address.scheme == "tls" and tls is None:
        raise UsageError("--listen tls://... needs --cert (and --key if separate)")
    return address


def relay_listen(listen: str | Address, target: str | Address,
                 options: RelayOptions | None = None, *, max_connections: int = 1024,
                 max_per_client: int | None = None, grace: float = 5.0, workers: int = 1,
                 dump_to: TextIO | None = None, tls: ssl.SSLContext | None = None,
                 on_ready: Callable[[str], None] | None = None) -> None:
    """Listen on ``listen`` and relay each connection to a new connection to ``target``,
    until SIGTERM or SIGINT (main thread) and the grace period."""
    if max_connections < 1:
        raise UsageError("--max-connections must be at least 1")
    if grace < 0:
        raise UsageError("--grace must not be negative")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    address = listen_address(listen, tls)
    shown = str(address)
    if address.scheme == "tls":  # the relay's thread runs the handshake, not the hub
        address = parse_address("tcp://" + shown.removeprefix("tls://"))
    limits = Limits().updated(max_connections=max_connections, grace=grace,
                              max_per_client=max_per_client)
    service = Relay(target, options, tls=tls, dump_to=dump_to)
    server = Superserver([Binding(service, address, model="select", limits=limits)])

    def announce(bound: list[Bound]) -> None:
        if on_ready is not None:
            on_ready(bound[0].local.replace("tcp://", "tls://", 1) if tls else bound[0].local)

    serve_until_stopped(server, workers, announce)
