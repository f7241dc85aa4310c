"""Pipelined requests are answered a budget at a time (issue #11: findings 2 and 3).

A conversation answers until one call's output reaches ``high_water`` (or a file
follows a reply), returns PENDING and answers the rest from ``resume()``: the work done
per receive is bounded by the output limit, not by what one receive holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hosepipe.conversations.messages import MessageService, Sink, Upload
from hosepipe.limits import Limits
from hosepipe.service import (
    CLOSE,
    PENDING,
    Action,
    Context,
    Conversation,
    Send,
    SendFile,
    release,
)
from hosepipe.services import make_service
from hosepipe.wire import hello
from hosepipe.wire.codecs import get_codec
from hosepipe.wire.framing import FrameDecoder, encode_frame

LIMITS = Limits(high_water=1000)


def drain(conversation: Conversation, actions: list[Action]) -> tuple[bytes, int, int]:
    """Carry out actions as a driver would: (bytes sent, resumes, most files at once)."""
    out = bytearray()
    resumes = 0
    files_at_once = 0
    while True:
        files = [a for a in actions if isinstance(a, SendFile)]
        files_at_once = max(files_at_once, len(files))
        for action in actions:
            if isinstance(action, Send):
                out += action.data
            elif isinstance(action, SendFile):
                out += os.pread(action.fd, action.size(), action.offset)
        release(actions)
        if PENDING not in actions:
            return bytes(out), resumes, files_at_once
        resumes += 1
        actions = conversation.resume()


def test_classic_lines_are_answered_a_budget_at_a_time() -> None:
    conversation = make_service("upper").conversation(Context(limits=LIMITS))
    flood = b"knights\n" * 10_000  # 80 KB pipelined, never read
    first = conversation.data_received(flood)
    assert first[-1] is PENDING
    assert sum(len(a.data) for a in first if isinstance(a, Send)) < 1000 + 100
    out, resumes, _ = drain(conversation, first)
    assert out == b"KNIGHTS\n" * 10_000
    assert resumes >= 70


def test_classic_eof_waits_for_the_held_lines_then_closes() -> None:
    conversation = make_service("upper").conversation(Context(limits=LIMITS))
    actions = conversation.data_received(b"a\n" * 2000)
    out, _, _ = drain(conversation, actions)
    end = conversation.eof_received()
    assert end == [CLOSE]
    assert out == b"A\n" * 2000


def frames(*values: Any, codec: str = "msgpack") -> bytes:
    dumps = get_codec(codec).dumps
    return encode_frame(hello.client_hello(codec)) + b"".join(
        encode_frame(dumps(v)) for v in values)


def replies(data: bytes) -> list[Any]:
    decoder = FrameDecoder()
    decoder.feed(data)
    loads = get_codec("msgpack").loads
    return [loads(f) for f in list(iter(decoder.next_frame, None))[1:]]  # after the hello


def test_framed_requests_are_answered_a_budget_at_a_time() -> None:
    conversation = make_service("square").conversation(Context(limits=LIMITS))
    actions = conversation.data_received(frames(*range(3000)))
    assert actions[-1] is PENDING
    out, resumes, _ = drain(conversation, actions)
    assert replies(out) == [{"ok": n * n} for n in range(3000)]
    assert resumes >= 10


def test_pipelined_gets_hold_one_open_file_at_a_time(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.txt").write_bytes(b"0123456789")
    files = make_service("files", {"root": str(root)})
    conversation = files.conversation(Context(limits=LIMITS))
    before = len(os.listdir("/proc/self/fd"))
    get = {"op": "get", "path": "f.txt"}
    actions = conversation.data_received(frames(*[get] * 500))
    assert len(os.listdir("/proc/self/fd")) - before <= 1  # one file opened, not 500
    out, resumes, most = drain(conversation, actions)
    assert most == 1 and resumes >= 499
    assert out.count(b"0123456789") == 500
    files.close()


class _Bucket(Sink):
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def finish(self) -> Any:
        return {"stored": len(self.data)}


class _Store(MessageService):
    name = "store"

    def handle(self, request: Any) -> Any:
        return Upload({"ready": True}, request, _Bucket())


def test_an_empty_upload_completes_at_once() -> None:
    conversation = _Store().conversation(Context())
    out, _, _ = drain(conversation, conversation.data_received(frames(0)))
    assert replies(out) == [{"ok": {"ready": True}}, {"ok": {"stored": 0}}]


def test_raw_bytes_pipelined_behind_a_put_go_to_the_upload() -> None:
    conversation = _Store().conversation(Context())
    data = frames(5) + b"HELLO" + encode_frame(get_codec("msgpack").dumps(3)) + b"abc"
    out, _, _ = drain(conversation, conversation.data_received(data))
    assert replies(out) == [{"ok": {"ready": True}}, {"ok": {"stored": 5}},
                            {"ok": {"ready": True}}, {"ok": {"stored": 3}}]


class _Slow(MessageService):
    """Doubles a number, the slow way (elsewhere)."""

    name = "slow"

    def handle(self, request: Any) -> Any:
        from hosepipe.conversations.messages import Offload  # noqa: PLC0415

        return Offload(lambda: request * 2)


def test_offloaded_work_on_a_shared_loop_answers_in_order() -> None:
    import threading  # noqa: PLC0415

    from hosepipe.driving.driver import Driver  # noqa: PLC0415

    woken = threading.Event()
    driver = Driver(Limits(), waker=woken.set)
    driver.open(_Slow().conversation, Context(offload=True))
    out = driver.receive(frames(1, 2, 3))  # three requests at once
    assert out is None and driver.waiting and not driver.wants_read
    answers = bytearray()
    for _ in range(3):  # each answer comes with a RESUME pushed by a worker thread
        assert woken.wait(10)
        woken.clear()
        driver.drain()
        while (head := driver.head()) is not None:
            answers += bytes(head)
            driver.progress(len(head))
    assert replies(bytes(answers)) == [{"ok": 2}, {"ok": 4}, {"ok": 6}]
    assert driver.wants_read


def test_offloaded_work_on_a_thread_of_its_own_runs_inline() -> None:
    conversation = _Slow().conversation(Context(offload=False))
    out, _, _ = drain(conversation, conversation.data_received(frames(21)))
    assert replies(out) == [{"ok": 42}]
