"""One port, two protocols: the first byte tells framed messages from classic text.

A frame starts with the top byte of a 4-byte length, which is 0x00 for any frame under
16 MiB; classic text never starts with a NUL. :class:`FirstByteSwitch` waits for that
byte, then hands the connection, and every byte so far, to the conversation it chose.
A first byte of 0x16 is a TLS ClientHello sent to a plaintext port: closed at once, so
the client fails fast instead of waiting on a garbled answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hosepipe.service import CLOSE, Action, Context, Conversation

__all__ = ["FirstByteSwitch"]

FRAMED_FIRST_BYTES = (0x00, 0xFF)  # 0xFF: the -1 of a 2 GiB+ frame header
TLS_HANDSHAKE = 0x16  # the first byte of a TLS ClientHello: TLS spoken to a plaintext port

log = logging.getLogger("hosepipe.service")


# what a switch passes on to the conversation it chose: a subclass that overrides one of
# them (a room's switch does its own work in closed) must keep being called, and so
# keeps routing instead of stepping aside
_ROUTED = ("data_received", "paused", "resume", "eof_received", "closed", "wants_pause",
           "partial", "idle_limit", "message_limit")
_STEPS_ASIDE: dict[type, bool] = {}


def _steps_aside(kind: type) -> bool:
    steps = _STEPS_ASIDE.get(kind)
    if steps is None:
        steps = _STEPS_ASIDE[kind] = all(
            getattr(kind, name) is getattr(FirstByteSwitch, name) for name in _ROUTED)
    return steps


class FirstByteSwitch(Conversation):
    """Delegate to ``framed(context)`` or ``classic(context)`` by the first byte."""

    def __init__(
        self,
        context: Context,
        *,
        classic: Callable[[Context], Conversation],
        framed: Callable[[Context], Conversation],
    ) -> None:
        self._context = context
        self._classic = classic
        self._framed = framed
        self._chosen: Conversation | None = None

    def _choose(self, first: int) -> Conversation:
        factory = self._framed if first in FRAMED_FIRST_BYTES else self._classic
        self._chosen = factory(self._context)
        if _steps_aside(type(self)):  # its events go straight to it from now on
            self._context.delegate(self._chosen)
        return self._chosen

    def data_received(self, data: bytes) -> list[Action]:
        if self._chosen is None and data[0] == TLS_HANDSHAKE:
            log.warning("%s: closed: a TLS handshake on a plaintext port (use tls://)",
                        self._context.peer)
            return [CLOSE]
        chosen = self._chosen or self._choose(data[0])
        return chosen.data_received(data)

    @property
    def wants_pause(self) -> bool:
        return self._chosen is not None and self._chosen.wants_pause

    @property
    def partial(self) -> bool:
        return self._chosen is not None and self._chosen.partial

    @property
    def idle_limit(self) -> float | None:
        return self._chosen.idle_limit if self._chosen is not None else None

    @property
    def message_limit(self) -> float | None:
        return self._chosen.message_limit if self._chosen is not None else None

    def paused(self) -> list[Action]:
        return self._chosen.paused() if self._chosen else []

    def resume(self) -> list[Action]:
        return self._chosen.resume() if self._chosen else []

    def eof_received(self) -> list[Action]:
        if self._chosen is None:
            return self._classic(self._context).eof_received()
        return self._chosen.eof_received()

    def closed(self) -> None:
        if self._chosen is not None:
            self._chosen.closed()
