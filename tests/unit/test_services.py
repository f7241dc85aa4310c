"""Services tested as sans-I/O conversations: bytes in, actions out."""

from __future__ import annotations

import pickle
import struct
import time

import pytest

from hosepipe.conversations.messages import MessageService
from hosepipe.limits import Limits
from hosepipe.service import CLOSE, Action, Context, Conversation, Send, ServiceError
from hosepipe.services import make_service
from hosepipe.services.clocks import RFC868_OFFSET, rfc868_decode, rfc868_now
from hosepipe.services.square import GREETING, square_of
from hosepipe.wire import get_codec, hello
from hosepipe.wire.framing import FrameDecoder, encode_frame


def sent(actions: list[Action]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


def talk(conversation: Conversation, *chunks: bytes, eof: bool = False) -> bytes:
    out = sent(conversation.opened())
    for chunk in chunks:
        out += sent(conversation.data_received(chunk))
    if eof:
        out += sent(conversation.eof_received())
    return out


def open_service(name: str, limits: Limits | None = None, **options: object) -> Conversation:
    return make_service(name, options).conversation(Context(limits=limits or Limits()))


def test_echo_returns_every_byte_at_once() -> None:
    conv = open_service("echo")
    assert conv.data_received(b"\x00ab") == [Send(b"\x00ab")]
    assert conv.eof_received() == [CLOSE]


def test_echo_with_prefix_answers_per_message() -> None:
    conv = open_service("echo", prefix="Echo=>")
    assert talk(conv, b"one\ntw", b"o\n") == b"Echo=>one\nEcho=>two\n"


def test_echo_datagram() -> None:
    assert make_service("echo").datagram(b"ping", "peer") == b"ping"


def test_daytime_speaks_then_closes() -> None:
    actions = open_service("daytime").opened()
    assert actions[-1] == CLOSE
    text = sent(actions)
    assert text.endswith(b"\r\n")
    assert time.strptime(text.decode().strip(), "%a %b %d %H:%M:%S %Y")


def test_time_is_rfc868() -> None:
    now = time.time()
    data = sent(open_service("time").opened())
    (value,) = struct.unpack("!I", data)
    assert abs(value - (int(now) + RFC868_OFFSET)) <= 2
    assert rfc868_decode(rfc868_now(1_700_000_000)) == 1_700_000_000
    assert rfc868_decode(rfc868_now(2**31 + 10)) == 2**31 + 10  # past 2036


def test_square_greets_then_squares() -> None:
    conv = open_service("square")
    out = talk(conv, b"Hi there!\n", b"3\n-12\n", b"99999999999\r\n", b" +7 \n")
    assert out == (GREETING + "\n9\n144\n9999999999800000000001\r\n49\n").encode()


def test_square_errors_keep_the_connection_open() -> None:
    conv = open_service("square")
    out = talk(conv, b"hello\n", b"twelve\n", b"1_000\n", b"\n", b"4\n")
    lines = out.decode().splitlines()
    assert lines[0] == GREETING
    assert all(line.startswith("error: ") for line in lines[1:4])
    assert lines[4] == "16"


def test_square_digit_limit_is_an_error_not_a_crash() -> None:
    conv = open_service("square", limits=Limits(max_line=100_000), max_digits=10)
    out = talk(conv, b"hi\n", b"12345678901\n", b"1234567890\n")
    lines = out.decode().splitlines()
    assert lines[1] == "error: integer has 11 digits; the limit is 10"
    assert lines[2] == str(1234567890**2)


def test_square_of_the_largest_default_integer_prints() -> None:
    big = "9" * 4300
    result = square_of(big, 4300)
    assert len(result) == 8600 and result.startswith("9999") and result.endswith("0001")


def test_square_answers_a_bare_greeting_and_each_bare_number_at_once() -> None:
    conv = open_service("square")
    assert sent(conv.data_received(b"Hi")) == GREETING.encode()  # no pause waited for
    assert not conv.wants_pause
    assert sent(conv.data_received(b"12")) == b"144"
    assert not conv.wants_pause


def test_square_with_keep_pausing_joins_a_bare_message_sent_in_pieces() -> None:
    conv = open_service("square", limits=Limits(keep_pausing=True))
    conv.data_received(b"Hi")
    assert sent(conv.paused()) == GREETING.encode()
    conv.data_received(b"1")
    conv.data_received(b"2")
    assert sent(conv.paused()) == b"144"


def test_upper_and_ni() -> None:
    assert talk(open_service("upper"), b"knights\n") == b"KNIGHTS\n"
    assert talk(open_service("ni"), b"shrubbery\n") == b"Ni!\nshrubbery\nNi!\n"
    assert talk(open_service("ni"), b"\n") == b"Error: received empty message\n"


def test_overlong_line_gets_an_error_and_close() -> None:
    conv = open_service("upper", limits=Limits(max_line=16))
    actions = conv.data_received(b"x" * 17)
    assert actions[-1] == CLOSE
    assert sent(actions).startswith(b"error: line longer than the limit of 16 bytes")


# -- framed messages ------------------------------------------------------------------

def framed_replies(conv: Conversation, *payloads: bytes, codec: str = "msgpack") -> list[object]:
    stream = b"".join(encode_frame(p) for p in payloads)
    out = b""
    for i in range(len(stream)):  # one byte at a time
        out += sent(conv.data_received(stream[i : i + 1]))
    decoder = FrameDecoder()
    decoder.feed(out)
    frames = []
    while (frame := decoder.next_frame()) is not None:
        frames.append(frame)
    replies: list[object] = []
    for frame in frames:
        replies.append(frame if hello.is_hello(frame) else get_codec(codec).decode(frame))
    return replies


def test_framed_square_with_hello() -> None:
    conv = open_service("square")
    codec = get_codec("json")
    replies = framed_replies(conv, hello.client_hello("json"), codec.encode(12),
                             codec.encode("-3"), codec.encode("x"), codec=("json"))
    assert replies[0] == hello.server_reply("json")
    assert replies[1:3] == [{"ok": 144}, {"ok": 9}]
    assert replies[3]["error"] == "bad-request"  # type: ignore[index]


def test_framed_default_codec_without_hello() -> None:
    codec = get_codec("msgpack")
    assert framed_replies(open_service("upper"), codec.encode("ni")) == [{"ok": "NI"}]


def test_framed_square_reply_too_big_for_msgpack_is_a_structured_error() -> None:
    codec = get_codec("msgpack")
    replies = framed_replies(open_service("square"), codec.encode(2**40))
    assert replies == [{"error": "unencodable", "message": replies[0]["message"]}]  # type: ignore[index]


def test_pickle_refused_before_authentication() -> None:
    conv = open_service("upper")
    actions = conv.data_received(encode_frame(pickle.dumps("hi")))
    assert actions[-1] == CLOSE
    decoder = FrameDecoder()
    decoder.feed(sent(actions))
    frame = decoder.next_frame()
    assert frame is not None
    assert pickle.loads(frame)["error"] == "refused"


@pytest.mark.parametrize("codec", ["pickle", "bytes", "yaml"])
def test_hello_refusals(codec: str) -> None:
    conv = open_service("upper")
    actions = conv.data_received(encode_frame(hello.client_hello(codec)))
    assert actions[-1] == CLOSE
    assert b"HOSEPIPE/1 error" in sent(actions)


def test_oversize_frame_gets_error_and_close() -> None:
    conv = open_service("upper", limits=Limits(max_frame=64))
    actions = conv.data_received(struct.pack("!i", 65))
    assert actions[-1] == CLOSE
    decoder = FrameDecoder()
    decoder.feed(sent(actions))
    frame = decoder.next_frame()
    assert frame is not None
    assert get_codec("msgpack").decode(frame)["error"] == "too-large"


class Divider(MessageService):
    name = "divide"

    def handle(self, request: object) -> object:
        if not isinstance(request, list) or len(request) != 2:
            raise ServiceError("bad-request", "send [a, b]")
        a, b = request
        return a / b


def test_handler_crash_is_an_internal_error_and_the_service_goes_on() -> None:
    conv = Divider().conversation(Context())
    codec = get_codec("msgpack")
    replies = framed_replies(conv, codec.encode([1, 0]), codec.encode("x"), codec.encode([1, 4]))
    assert replies[0]["error"] == "internal"  # type: ignore[index]
    assert replies[1] == {"error": "bad-request", "message": "send [a, b]"}
    assert replies[2] == {"ok": 0.25}


def test_garbage_payload_is_a_bad_request() -> None:
    conv = Divider().conversation(Context())
    assert framed_replies(conv, b"\xc1")[0]["error"] == "bad-request"  # type: ignore[index]


@pytest.mark.parametrize("service", ["square", "upper", "ni"])
def test_tls_hello_on_a_plaintext_port_is_closed_at_once(service: str) -> None:
    client_hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00]) + b"\x01" * 40
    assert open_service(service).data_received(client_hello) == [CLOSE]
