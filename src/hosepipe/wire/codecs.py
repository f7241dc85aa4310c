"""Codecs: how a message value becomes a frame's payload and back.

A connection agrees on one codec when it opens (see :mod:`hosepipe.wire.hello`).
``bytes`` and ``text`` carry raw payloads; ``json`` and ``msgpack`` carry structured
values; ``pickle`` can run arbitrary code when decoding and is therefore offered only
to peers that have passed the authkey challenge (``requires_auth``).

Text is strict UTF-8 on the wire in every codec: msgpack refuses invalid UTF-8 itself;
JSON would take a lone surrogate from a ``\ud800`` escape (and from encoded surrogate
bytes), which no reply could then carry, so ``json`` refuses both when decoding and
never writes one.
"""

from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack

from hosepipe.errors import CodecError

__all__ = ["CODECS", "Codec", "get_codec"]


@dataclass(frozen=True)
class Codec:
    """A named pair of functions between values and payload bytes."""

    name: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]
    requires_auth: bool = False

    # What ``dumps`` raises for a value it cannot carry. ``loads`` may raise anything:
    # each library has its own zoo of errors for bad input.
    ENCODE_ERRORS: ClassVar[tuple[type[Exception], ...]] = (
        TypeError, ValueError, OverflowError, pickle.PicklingError)

    def encode(self, value: Any) -> bytes:
        try:
            return self.dumps(value)
        except self.ENCODE_ERRORS as exc:
            raise self.encode_error(value, exc) from exc

    def decode(self, payload: bytes) -> Any:
        try:
            return self.loads(payload)
        except Exception as exc:
            raise self.decode_error(exc) from exc

    # Hot paths (a message conversation, Client.request) call dumps/loads directly, one
    # Python call less per message, and build the same errors with these.
    def encode_error(self, value: Any, exc: Exception) -> CodecError:
        return CodecError(f"{self.name} cannot encode {type(value).__name__}: {exc}")

    def decode_error(self, exc: Exception) -> CodecError:
        return CodecError(f"payload is not valid {self.name}: {exc}")


def _bytes_dumps(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("the bytes codec carries only bytes")
    return bytes(value)


def _text_dumps(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("the text codec carries only str")
    return value.encode("utf-8")


def _json_dumps(value: Any) -> bytes:
    # a lone surrogate makes encode() raise UnicodeEncodeError, a ValueError: unencodable
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json_loads(payload: bytes) -> Any:
    """Strict: the payload must be UTF-8 (json.loads of bytes would let surrogates
    through), and a ``\\u`` escape may not leave a lone surrogate behind."""
    value = json.loads(payload.decode("utf-8"))
    if b"\\u" in payload:  # only escapes can make surrogates now; rare, so check then
        _json_dumps(value)
    return value


_idle_packers: list[msgpack.Packer] = []


def _msgpack_dumps(value: Any) -> bytes:
    """Pack with a reused Packer: ``packb`` builds a Packer (and its buffer) for every
    call, about three times the cost of packing a small message. Each caller takes a
    Packer from the idle list (``pop`` and ``append`` are atomic), so threads never
    share one; a Packer resets itself after each value, and after a failed one."""
    packer = _idle_packers.pop() if _idle_packers else msgpack.Packer(use_bin_type=True)
    try:
        return packer.pack(value)
    finally:
        _idle_packers.append(packer)


# a partial, not a Python wrapper: one frame less on every message
_msgpack_loads = functools.partial(msgpack.unpackb, raw=False, strict_map_key=False)


CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec("bytes", _bytes_dumps, bytes),
        Codec("text", _text_dumps, lambda payload: payload.decode("utf-8")),
        Codec("json", _json_dumps, _json_loads),
        Codec("msgpack", _msgpack_dumps, _msgpack_loads),
        Codec(
            "pickle",
            lambda value: pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
            pickle.loads,
            requires_auth=True,
        ),
    )
}


def get_codec(name: str) -> Codec:
    """The codec called ``name``; :class:`CodecError` names the known ones if absent."""
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise CodecError(f"unknown codec {name!r}; known codecs: {known}") from None
