"""AuthGate: the authkey challenge in front of any conversation.

A binding with an authkey wraps every conversation in a gate. The gate speaks first
(the challenge), runs :class:`~hosepipe.wire.auth.Handshake` over frames capped at
``max_preauth`` bytes (256, the standard library's own cap), and only when both sides
have proved the key does it create the service's conversation, with
``context.authenticated`` true (which is what allows pickle), and hand it every byte
that followed the handshake. Until then the idle timeout is the
handshake deadline. A wrong key gets ``#FAILURE#`` and the connection is closed; the
failure is logged (rate-limited).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from hosepipe.errors import ProtocolError
from hosepipe.service import CLOSE, Action, Context, Conversation, Send
from hosepipe.wire.auth import AuthFailed, Handshake, Role
from hosepipe.wire.framing import FrameDecoder, encode_frame

__all__ = ["AuthGate"]

log = logging.getLogger("hosepipe.auth")


class AuthGate(Conversation):
    def __init__(self, context: Context, make: Callable[[Context], Conversation], *,
                 authkey: bytes, allow_md5: bool = True,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.context = context
        self._make = make
        limit = context.limits.max_preauth
        self._handshake = Handshake(authkey, Role.SERVER, os.urandom(40), allow_md5=allow_md5,
                                    max_message=limit)
        self._frames = FrameDecoder(limit)
        self._inner: Conversation | None = None
        self._on_failure = on_failure or (lambda reason: log.warning(
            "%s: authentication failed: %s", context.peer, reason))

    @property
    def idle_limit(self) -> float | None:
        if self._inner is None:
            return self.context.limits.handshake_timeout
        return self._inner.idle_limit

    @property
    def message_limit(self) -> float | None:
        """Until the handshake is over, all of it must take at most handshake_timeout,
        however the peer trickles its bytes."""
        if self._inner is None:
            return self.context.limits.handshake_timeout
        return self._inner.message_limit

    def opened(self) -> list[Action]:
        return [Send(encode_frame(m)) for m in self._handshake.start()]

    def data_received(self, data: bytes) -> list[Action]:
        if self._inner is not None:
            return self._inner.data_received(data)
        out: list[Action] = []
        try:
            while not self._handshake.done:
                data = self._frames.feed_one(data)
                frame = self._frames.next_frame()
                if frame is None:
                    return out
                out += [Send(encode_frame(m)) for m in self._handshake.receive(frame)]
        except AuthFailed as exc:
            self._on_failure(str(exc))
            refusal = [Send(encode_frame(exc.reply))] if exc.reply else []
            return [*out, *refusal, CLOSE]
        except ProtocolError as exc:  # a pre-authentication frame over 256 bytes
            self._on_failure(str(exc))
            return [*out, CLOSE]
        self._inner = self._make(self.context.authenticated_copy())
        self.context.delegate(self._inner)  # its events go straight to it from now on
        out += self._inner.opened()
        if data:
            out += self._inner.data_received(data)
        return out

    @property
    def wants_pause(self) -> bool:
        return self._inner is not None and self._inner.wants_pause

    @property
    def partial(self) -> bool:  # the whole handshake counts as one message
        return self._inner.partial if self._inner is not None else True

    def resume(self) -> list[Action]:
        return self._inner.resume() if self._inner is not None else []

    def paused(self) -> list[Action]:
        return self._inner.paused() if self._inner is not None else []

    def eof_received(self) -> list[Action]:
        if self._inner is None:
            return [CLOSE]
        return self._inner.eof_received()

    def closed(self) -> None:
        if self._inner is not None:
            self._inner.closed()
