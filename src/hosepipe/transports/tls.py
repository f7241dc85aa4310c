"""TLS: contexts for servers and clients, and the server-side handshake.

A ``tls://`` binding holds a server :class:`ssl.SSLContext` (certificate, key, and for
mutual TLS a CA whose client certificates are required). Blocking models wrap each
accepted socket and run the handshake under the handshake deadline before the
conversation starts; the async model hands the context to asyncio. Clients build a
context from explicit files or from ``HOSEPIPE_TLS_CA``, ``HOSEPIPE_TLS_CERT`` and
``HOSEPIPE_TLS_KEY`` (so every command can reach a TLS server). TLS 1.2 is the floor.
"""

from __future__ import annotations

import os
import socket
import ssl

from hosepipe.errors import ConfigError, ConnectError, reason_of

__all__ = ["client_context", "secure_accepted", "server_context"]


def server_context(cert: str, key: str | None = None, *, ca: str | None = None,
                   verify_client: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
        if ca:
            context.load_verify_locations(ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate, key or CA: {exc}") from exc
    if verify_client:
        if not ca:
            raise ConfigError("--verify-client needs --ca (the CA of the client certificates)")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(*, ca: str | None = None, cert: str | None = None, key: str | None = None
                   ) -> ssl.SSLContext:
    """A verifying client context; files default to the HOSEPIPE_TLS_* variables."""
    ca = ca or os.environ.get("HOSEPIPE_TLS_CA")
    cert = cert or os.environ.get("HOSEPIPE_TLS_CERT")
    key = key or os.environ.get("HOSEPIPE_TLS_KEY")
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the client certificate: {exc}") from exc
    return context


def secure_accepted(sock: socket.socket, context: ssl.SSLContext, timeout: float
                    ) -> ssl.SSLSocket:
    """Run the server side of the handshake on an accepted socket, within ``timeout``."""
    sock.settimeout(timeout)
    try:
        secure = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        secure.do_handshake()
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise ConnectError(f"TLS handshake failed: {reason_of(exc)}") from exc
    return secure
