"""A hello in the middle of a message conversation: a new peer on a stream that has no
end of its own (a serial line whose far end was opened again) agrees its codec anew."""

from __future__ import annotations

from hosepipe.wire import get_codec, hello
from hosepipe.wire.framing import FrameDecoder, encode_frame
from tests.unit.test_services import open_service, sent


def test_a_second_hello_agrees_the_codec_again() -> None:
    conv = open_service("square")
    json, msgpack = get_codec("json"), get_codec("msgpack")
    frames = [hello.client_hello("json"), json.encode(12),
              hello.client_hello("msgpack"), msgpack.encode(3)]
    out = b"".join(sent(conv.data_received(encode_frame(frame))) for frame in frames)
    decoder = FrameDecoder()
    decoder.feed(out)
    replies = [decoder.next_frame() for _ in frames]
    assert replies[0] == hello.server_reply("json")
    assert json.decode(replies[1]) == {"ok": 144}
    assert replies[2] == hello.server_reply("msgpack")
    assert msgpack.decode(replies[3]) == {"ok": 9}  # in the second peer's codec
    assert decoder.next_frame() is None
