"""The sans-I/O core: bytes in, events out, bytes to send.

Nothing in this package imports socket, select, selectors, threading or asyncio
(``tests/unit/test_wire_purity.py`` enforces it), so every framer and codec can be
tested by feeding it bytes whole, one at a time, or in random splits.
"""

from hosepipe.wire.buffer import ReceiveBuffer
from hosepipe.wire.codecs import CODECS, Codec, get_codec
from hosepipe.wire.framing import (
    ClassicDecoder,
    FrameDecoder,
    LineDecoder,
    Message,
    encode_frame,
)

__all__ = [
    "CODECS",
    "ClassicDecoder",
    "Codec",
    "FrameDecoder",
    "LineDecoder",
    "Message",
    "ReceiveBuffer",
    "encode_frame",
    "get_codec",
]
