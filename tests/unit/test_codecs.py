from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hosepipe.errors import CodecError
from hosepipe.wire import CODECS, get_codec, hello

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("name", ["json", "msgpack", "pickle"])
@given(value=json_values)
def test_structured_codecs_round_trip(name: str, value: object) -> None:
    codec = get_codec(name)
    assert codec.decode(codec.encode(value)) == value


def test_raw_codecs() -> None:
    assert get_codec("bytes").decode(get_codec("bytes").encode(b"\x00\xff")) == b"\x00\xff"
    assert get_codec("text").decode(get_codec("text").encode("Ni! é")) == "Ni! é"
    with pytest.raises(CodecError):
        get_codec("text").encode(b"not text")
    with pytest.raises(CodecError):
        get_codec("bytes").encode("not bytes")


@pytest.mark.parametrize("name", ["json", "msgpack", "text"])
def test_garbage_is_a_codec_error(name: str) -> None:
    with pytest.raises(CodecError):
        CODECS[name].decode(b"\xc1\xff{[")


def test_unencodable_value_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        get_codec("json").encode({1, 2})
    with pytest.raises(CodecError):
        get_codec("msgpack").encode(2**70)


def test_a_failed_msgpack_value_leaves_nothing_for_the_next() -> None:
    codec = get_codec("msgpack")
    with pytest.raises(CodecError):
        codec.encode([1, 2, object()])
    assert codec.decode(codec.encode([3])) == [3]


def test_threads_packing_at_once_never_mix_their_values() -> None:
    codec = get_codec("msgpack")

    def pack_many(seed: int) -> bool:
        values = [{"n": seed, "data": bytes([seed]) * (seed * 37 % 500)} for _ in range(2000)]
        return all(codec.decode(codec.encode(value)) == value for value in values)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(pack_many, range(8)))


def test_unknown_codec_names_the_known_ones() -> None:
    with pytest.raises(CodecError, match="msgpack"):
        get_codec("yaml")


def test_only_pickle_requires_authentication() -> None:
    assert [c.name for c in CODECS.values() if c.requires_auth] == ["pickle"]


def test_hello_round_trip() -> None:
    assert hello.parse_hello(hello.client_hello("json")) == "json"
    assert hello.parse_reply(hello.server_reply("json")) == "json"
    with pytest.raises(Exception, match="refused"):
        hello.parse_reply(hello.server_reply(None, "no"))


@pytest.mark.parametrize("payload", [b'"\\ud800"', b'{"\\udc00": 1}', b'["a", "\\udfff"]',
                                     b'"\xed\xa0\x80"', b'"\\ud83d"'])
def test_json_refuses_lone_surrogates(payload: bytes) -> None:
    """JSON is strict UTF-8 on the wire: a lone surrogate, escaped or encoded, is a
    decode error, so it never reaches a service (nor an error reply that echoes it)."""
    with pytest.raises(CodecError):
        get_codec("json").decode(payload)
    with pytest.raises(CodecError):
        get_codec("json").encode(["\ud800"])


def test_json_keeps_surrogate_pairs_and_escaped_backslashes() -> None:
    json_codec = get_codec("json")
    assert json_codec.decode(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert json_codec.decode(b'"\\\\ud800"') == "\\ud800"
