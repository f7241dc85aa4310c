"""The driver, as bytes in and actions out, on a fake clock: every rule, no sleeps."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosepipe.conversations.messages import MessageConversation, MessageService
from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.driving import driver as driver_module
from hosepipe.driving.driver import Driver, Region
from hosepipe.gate import AuthGate
from hosepipe.limits import Limits
from hosepipe.service import (
    CLOSE,
    PENDING,
    RESUME,
    WAITING,
    Action,
    Context,
    Conversation,
    Send,
    SendFile,
)
from hosepipe.services import make_service
from hosepipe.wire import get_codec, hello
from hosepipe.wire.auth import Handshake, Role
from hosepipe.wire.framing import FrameDecoder, encode_frame
from tests.waiting import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scripted(Conversation):
    """Answers each data_received with what the test queued, or echoes."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.replies: list[list[Action]] = []
        self.calls: list[str] = []
        self.want_pause = False
        self.is_partial = False
        self.resumes: list[list[Action]] = []
        self.on_eof: list[Action] = [CLOSE]

    def opened(self) -> list[Action]:
        self.calls.append("opened")
        return []

    def data_received(self, data: bytes) -> list[Action]:
        self.calls.append(f"data {data!r}")
        return self.replies.pop(0) if self.replies else [Send(data)]

    @property
    def wants_pause(self) -> bool:
        return self.want_pause

    @property
    def partial(self) -> bool:
        return self.is_partial

    def paused(self) -> list[Action]:
        self.calls.append("paused")
        return [Send(b"p")]

    def resume(self) -> list[Action]:
        self.calls.append("resume")
        return self.resumes.pop(0) if self.resumes else []

    def eof_received(self) -> list[Action]:
        self.calls.append("eof")
        return self.on_eof

    def closed(self) -> None:
        self.calls.append("closed")


def make(limits: Limits | None = None, **kwargs: object
         ) -> tuple[Driver, Scripted, Clock, list[tuple[str, int, int]]]:
    clock = Clock()
    done: list[tuple[str, int, int]] = []
    driver = Driver(limits or Limits(), clock=clock,
                    on_done=lambda *args: done.append(args), **kwargs)  # type: ignore[arg-type]
    holder: list[Scripted] = []

    def factory(context: Context) -> Conversation:
        holder.append(Scripted(context))
        return holder[0]

    driver.open(factory, Context(limits=driver.limits))
    return driver, holder[0], clock, done


def flush(driver: Driver) -> bytes:
    """Take everything queued, as a transport that accepts all would."""
    out = bytearray()
    while (head := driver.head()) is not None:
        if isinstance(head, Region):
            chunk = os.pread(head.fd, head.remaining, head.offset)
        else:
            chunk = bytes(head)
        out += chunk
        driver.progress(len(chunk))
    return bytes(out)


def test_one_reply_is_handed_back_for_sending_at_once() -> None:
    driver, conv, _, _ = make()
    assert driver.receive(b"hello") == b"hello"
    assert driver.head() is None and driver.wants_read
    assert (driver.received, driver.sent) == (5, 5)
    assert conv.calls == ["opened", "data b'hello'"]


def test_replies_queue_in_order_and_close_after_the_queue_drains() -> None:
    driver, conv, _, done = make()
    conv.replies = [[Send(b"a"), Send(b""), Send(b"bc"), CLOSE, Send(b"never")]]
    assert driver.receive(b"x") is None
    assert not driver.wants_read and not driver.finished
    assert flush(driver) == b"abc"
    assert driver.finished == "closed"
    assert done == [("closed", 1, 3)]
    assert conv.calls[-1] == "closed"


def test_unsent_rest_of_a_fast_reply_is_queued_and_counted_once() -> None:
    driver, _, _, _ = make()
    out = driver.receive(b"abcdef")
    assert out == b"abcdef"
    driver.unsent(memoryview(out)[2:])
    assert flush(driver) == b"cdef"
    assert driver.sent == 6


def test_idle_deadline() -> None:
    driver, conv, clock, done = make(Limits(idle_timeout=30))
    assert driver.deadline == clock.now + 30
    clock.advance(29.9)
    driver.timer()
    assert not driver.finished
    clock.advance(0.1)
    driver.timer()
    assert driver.finished == "idle for 30 s"
    assert done[0][0] == "idle for 30 s" and conv.calls[-1] == "closed"


def test_receiving_moves_the_idle_deadline() -> None:
    driver, _, clock, _ = make(Limits(idle_timeout=30))
    clock.advance(20)
    driver.receive(b"x")
    assert driver.deadline == clock.now + 30


def test_pause_fires_once_per_quiet_period_even_if_still_wanted() -> None:
    driver, conv, clock, _ = make(Limits(pause=0.05, idle_timeout=30))
    conv.want_pause = True
    conv.replies = [[]]
    driver.receive(b"Hi")
    assert driver.deadline == pytest.approx(clock.now + 0.05)
    clock.advance(0.05)
    for _ in range(100):  # a conversation that keeps wants_pause true never spins
        driver.timer()
    assert conv.calls.count("paused") == 1
    assert flush(driver) == b"p"
    assert driver.deadline == pytest.approx(clock.now - 0.05 + 30)  # now the idle timeout
    driver.receive(b"more")  # a new quiet period
    clock.advance(0.05)
    driver.timer()
    assert conv.calls.count("paused") == 2


def test_message_deadline_runs_from_the_first_byte_of_a_partial_message() -> None:
    driver, conv, clock, _ = make(Limits(message_timeout=5, idle_timeout=30))
    conv.is_partial = True
    conv.replies = [[], []]
    driver.receive(b"pa")
    clock.advance(3)
    driver.receive(b"rt")  # still partial: the deadline does not move
    assert driver.deadline == pytest.approx(clock.now + 2)
    clock.advance(2)
    driver.timer()
    assert driver.finished == "dropped: message incomplete after 5 s"


def test_a_whole_message_stops_the_message_deadline() -> None:
    driver, conv, clock, _ = make(Limits(message_timeout=5, idle_timeout=30))
    conv.is_partial = True
    conv.replies = [[]]
    driver.receive(b"pa")
    conv.is_partial = False
    driver.receive(b"rt\n")
    clock.advance(6)
    driver.timer()
    assert not driver.finished


def test_send_deadline_drops_a_peer_that_takes_nothing() -> None:
    driver, conv, clock, _ = make(Limits(send_timeout=7, idle_timeout=300))
    conv.replies = [[Send(b"a"), Send(b"b")]]
    driver.receive(b"x")
    assert driver.deadline == clock.now + 7
    clock.advance(7)
    driver.timer()
    assert driver.finished == "dropped: accepted no data for 7 s"


def test_progress_moves_the_send_deadline() -> None:
    driver, conv, clock, _ = make(Limits(send_timeout=7))
    conv.replies = [[Send(b"abcd"), Send(b"e")]]
    driver.receive(b"x")
    clock.advance(5)
    driver.progress(2)
    assert driver.deadline == clock.now + 7


def test_no_idle_deadline_while_output_is_being_sent() -> None:
    driver, conv, clock, _ = make(Limits(send_timeout=7, idle_timeout=10))
    conv.replies = [[Send(b"abcd" * 10)]]
    out = driver.receive(b"x")
    assert out is not None
    driver.unsent(memoryview(out))  # the transport took nothing yet
    for _ in range(5):
        clock.advance(5)
        driver.progress(1)
        driver.timer()
    assert not driver.finished  # 25 s without input, but the download goes on


def test_high_water_stops_reading_until_the_output_drains() -> None:
    driver, conv, _, _ = make(Limits(high_water=10))
    conv.replies = [[Send(b"0123456789AB"), Send(b"x")]]
    driver.receive(b"q")
    assert not driver.wants_read
    driver.progress(12)
    assert driver.wants_read


def test_pending_holds_reading_and_resumes_when_the_output_drains() -> None:
    driver, conv, _, _ = make(Limits(high_water=10))
    conv.replies = [[Send(b"01234567"), PENDING]]
    conv.resumes = [[Send(b"second"), PENDING], [Send(b"third")]]
    driver.receive(b"pipelined")
    assert not driver.wants_read and conv.calls.count("resume") == 0
    driver.progress(4)  # 4 left: under half the high-water mark
    assert conv.calls.count("resume") == 1
    assert flush(driver) == b"4567secondthird"
    assert conv.calls.count("resume") == 2 and driver.wants_read


def test_pending_after_a_file_waits_until_the_file_is_sent(tmp_path: object) -> None:
    path = f"{tmp_path}/f"
    with open(path, "wb") as file:
        file.write(b"FILE")
    driver, conv, _, _ = make()
    conv.replies = [[Send(b"hdr"), SendFile(os.open(path, os.O_RDONLY)), PENDING]]
    driver.receive(b"get;get")
    driver.progress(3)
    assert conv.calls.count("resume") == 0  # the region is still queued
    assert flush(driver) == b"FILE"
    assert conv.calls.count("resume") == 1


def test_end_of_stream_waits_for_held_messages() -> None:
    driver, conv, _, _ = make(Limits(high_water=4))
    conv.replies = [[Send(b"1234"), PENDING]]
    conv.resumes = [[Send(b"5")]]
    driver.receive(b"x")
    driver.receive(b"")
    assert "eof" not in conv.calls
    assert flush(driver) == b"12345"
    assert conv.calls[-3:] == ["resume", "eof", "closed"]
    assert driver.finished == "closed"


def test_end_of_stream_keeps_the_connection_open_if_the_conversation_says_so() -> None:
    driver, conv, _, _ = make()
    conv.on_eof = [Send(b"bye")]
    driver.receive(b"")
    assert flush(driver) == b"bye"
    assert not driver.finished and not driver.wants_read
    assert driver.push((Send(b"later"), CLOSE))
    driver.drain()
    assert flush(driver) == b"later" and driver.finished == "closed"


def test_a_push_from_a_callback_comes_before_what_it_returns_and_wakes_nobody() -> None:
    woken: list[int] = []
    driver, conv, _, _ = make(waker=lambda: woken.append(1))

    class Pushing(Scripted):
        def data_received(self, data: bytes) -> list[Action]:
            self.context.push(Send(b"pushed "))
            return [Send(b"returned")]

    pushing = Pushing(conv.context)
    driver.conversation = pushing
    driver.receive(b"x")
    assert flush(driver) == b"pushed returned"
    assert woken == []


def test_a_push_from_another_thread_wakes_the_model() -> None:
    woken = threading.Event()
    driver, conv, _, _ = make(waker=woken.set)
    thread = threading.Thread(target=lambda: conv.context.push(Send(b"news")))
    thread.start()
    thread.join()
    assert woken.is_set()
    assert driver.pending_output == 4
    driver.drain()
    assert flush(driver) == b"news"
    assert driver.pending_output == 0


def test_a_forked_child_pushes_though_the_parent_held_every_push_lock() -> None:
    """The push locks are shared between drivers; one held by another thread at a fork
    would never be released in the child. The child gets new ones."""
    locks = driver_module._LOCKS
    for lock in locks:  # as if a thread of ours were pushing at the moment of the fork
        lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:  # the child: push and finish must not block
            try:
                driver, conv, _, _ = make()
                conv.context.push(Send(b"x"))
                driver.abort("closed")
            finally:
                os._exit(0 if driver.finished == "closed" else 1)
    finally:
        for lock in locks:
            lock.release()
    ended: list[int] = []

    def reaped() -> bool:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended.append(os.waitstatus_to_exitcode(status))
        return bool(done)

    try:
        wait_for(reaped, "the child to push and finish", 10)
    finally:
        if not ended:  # blocked on a lock its parent held at the fork
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert ended == [0]


def test_pushes_keep_their_order_across_threads_of_pushers() -> None:
    driver, conv, _, _ = make()
    per_thread = 200

    def pusher(name: str) -> None:
        for i in range(per_thread):
            conv.context.push(Send(f"{name}{i};".encode()))

    threads = [threading.Thread(target=pusher, args=(n,)) for n in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    driver.drain()
    got = flush(driver).decode().split(";")[:-1]
    for name in "abc":
        mine = [int(item[1:]) for item in got if item[0] == name]
        assert mine == list(range(per_thread))


def test_a_push_after_the_end_is_refused() -> None:
    driver, conv, _, _ = make()
    driver.fail("peer vanished")
    assert driver.finished == "dropped: peer vanished"
    assert conv.context.push(Send(b"x")) is False


def test_push_of_a_file_to_a_finished_connection_leaves_it_to_the_caller(tmp_path: object) -> None:
    driver, conv, _, _ = make()
    fd = os.open(__file__, os.O_RDONLY)
    queued = conv.context.push(SendFile(fd))
    driver.abort("cut")
    assert queued
    with pytest.raises(OSError):
        os.fstat(fd)  # the driver closed what it owned


def test_an_exception_in_the_conversation_ends_only_this_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    driver, conv, _, done = make()

    def boom(data: bytes) -> list[Action]:
        raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")

    conv.data_received = boom  # type: ignore[method-assign]
    assert driver.receive(b"add:\xff") is None
    assert driver.finished == "dropped: service error"
    assert conv.calls[-1] == "closed"
    assert done[0][0] == "dropped: service error"
    assert "UnicodeEncodeError" in caplog.text


def test_an_exception_while_opening_ends_the_connection() -> None:
    done: list[tuple[str, int, int]] = []
    driver = Driver(Limits(), on_done=lambda *a: done.append(a))

    def factory(context: Context) -> Conversation:
        raise RuntimeError("no database")

    driver.open(factory, Context())
    assert driver.finished == "dropped: service error"
    assert driver.receive(b"x") is None
    assert done == [("dropped: service error", 0, 0)]


def test_a_pipe_child_keeps_no_idle_or_message_deadline() -> None:
    driver, conv, clock, _ = make(Limits(idle_timeout=1, message_timeout=1),
                                  peer_deadlines=False)
    conv.is_partial = True
    conv.replies = [[]]
    driver.receive(b"x")
    clock.advance(3600)
    driver.timer()
    assert not driver.finished
    assert driver.timeout() is None


def test_conversation_limits_override_the_binding_s() -> None:
    class Handshaking(Scripted):
        idle_limit = 3.0  # type: ignore[assignment]
        message_limit = 2.0  # type: ignore[assignment]

    clock = Clock()
    driver = Driver(Limits(idle_timeout=300), clock=clock)
    driver.open(lambda ctx: Handshaking(ctx), Context())
    assert driver.deadline == clock.now + 3
    assert driver.conversation is not None
    driver.conversation.is_partial = True  # type: ignore[attr-defined]
    driver.conversation.replies = [[]]  # type: ignore[attr-defined]
    driver.receive(b"x")
    clock.advance(2)
    driver.timer()
    assert driver.finished == "dropped: message incomplete after 2 s"


def test_a_file_that_shrinks_drops_the_connection() -> None:
    driver, conv, _, _ = make()
    conv.replies = [[SendFile(os.open(__file__, os.O_RDONLY))]]
    driver.receive(b"get")
    driver.progress(10)
    driver.region_short()
    assert driver.finished == "dropped: a file shrank while it was being sent"


def test_deadline_checks_cost_nothing_when_finished() -> None:
    driver, _, _, _ = make()
    driver.abort("cut at shutdown")
    assert driver.finished == "cut at shutdown"
    assert driver.deadline == float("inf") and not driver.wants_read



class Plain(Conversation):
    """Overrides none of the rules a driver reads after each callback."""

    __slots__ = ()

    def data_received(self, data: bytes) -> list[Action]:
        return [Send(data)]


class Partly(Plain):
    """Inherits a rule from a class between it and Conversation."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = False

    def data_received(self, data: bytes) -> list[Action]:
        self.held = not data.endswith(b"\n")
        return [] if self.held else [Send(data)]


class Held(Partly):
    @property
    def partial(self) -> bool:
        return self.held


class Deeper(Held):
    pass


def test_rules_are_read_only_from_conversations_that_override_them() -> None:
    clock = Clock()
    plain = Driver(Limits(idle_timeout=30, message_timeout=5), clock=clock)
    plain.open(lambda ctx: Plain(), Context())
    assert plain.receive(b"x") == b"x"
    assert plain.deadline == clock.now + 30  # the binding's idle timeout, no message one
    deeper = Driver(Limits(idle_timeout=30, message_timeout=5), clock=clock)
    deeper.open(lambda ctx: Deeper(), Context())  # ``partial`` from a class in between
    assert deeper.receive(b"half") is None
    assert deeper.deadline == clock.now + 5
    clock.advance(5)
    deeper.timer()
    assert deeper.finished == "dropped: message incomplete after 5 s"


# Run in a fresh interpreter: in the suite's own process, threads left by earlier tests
# could allocate while the snapshot is taken.
_MEASURE_IDLE_DRIVERS = """
import gc, tracemalloc
from hosepipe.driving.driver import Driver
from hosepipe.limits import Limits
from hosepipe.service import Context
from tests.unit.test_driver import Plain

limits = Limits()

def idle():
    driver = Driver(limits, thread=1)
    driver.open(lambda ctx: Plain(), Context(limits=limits))
    reply = driver.receive(b"hello")
    assert reply == b"hello"
    driver.unsent(memoryview(reply)[2:])  # queued, then taken: the queue is empty
    driver.progress(3)
    assert driver.head() is None
    return driver

warm = [idle() for _ in range(10)]
gc.collect()
tracemalloc.start()
before = tracemalloc.take_snapshot()
drivers = [idle() for _ in range(2000)]
gc.collect()
after = tracemalloc.take_snapshot()
grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
print((grown - 8 * len(drivers)) / len(drivers))  # less the list holding them
"""


def test_an_idle_driver_holds_nothing_but_itself_and_two_timestamps() -> None:
    """Thousands of idle connections are mostly their drivers: no lock, list, inbox or
    bound method of its own once a reply has gone, and its seven flags are one word
    (measured 320 B on CPython 3.11; 368 B with a slot for each flag, 472 B before the
    lock, list and inbox were shared or made on demand)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _MEASURE_IDLE_DRIVERS], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    per_driver = float(done.stdout)
    assert per_driver < 345, f"{per_driver:.0f} B per idle driver"


def _time_step(driver: Driver, clock: Clock, step: str) -> None:
    """The steps of the property tests below that are not the peer's: time, the timer,
    the transport taking all that is queued."""
    if step == "tick":
        clock.advance(0.04)
    elif step == "long tick":
        clock.advance(40)
    elif step == "timer":
        driver.timer()
    else:
        assert step == "flush", step
        flush(driver)


_STEPS = ("data", "partial", "whole", "pause", "no pause", "tick", "long tick", "timer",
          "pending", "waiting", "resume", "close", "eof", "flush")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_STEPS), max_size=25), st.booleans())
def test_receive_timeout_answers_wants_read_and_timeout_in_one_call(
        steps: list[str], peer_deadlines: bool) -> None:
    # the blocking loop's one question per receive agrees with the two it replaces, in
    # whatever state a conversation's callbacks and the clock leave the driver
    driver, conv, clock, _ = make(Limits(idle_timeout=30, pause=0.05, message_timeout=2),
                                  peer_deadlines=peer_deadlines)
    for step in steps:
        if step == "data":
            driver.receive(b"x")
        elif step in ("partial", "whole"):
            conv.is_partial = step == "partial"
            driver.receive(b"y")
        elif step in ("pause", "no pause"):
            conv.want_pause = step == "pause"
            driver.receive(b"z")
        elif step in ("pending", "close"):
            conv.replies.append([Send(b"later"), PENDING] if step == "pending" else [CLOSE])
            driver.receive(b"w")
        elif step == "waiting":
            conv.replies.append([WAITING])
            driver.receive(b"v")
        elif step == "resume":
            driver.push((RESUME,))
            driver.drain()
        elif step == "eof":
            driver.receive(b"")
        else:
            _time_step(driver, clock, step)
        if driver.head() is None:
            expected = driver.timeout() if driver.wants_read else -1.0
            assert driver.receive_timeout() == expected


class _Same(MessageService):
    name = "same"

    def handle(self, request: object) -> object:
        return request


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=8), st.booleans(),
       st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=30))
def test_a_message_service_starts_the_message_deadline_exactly_inside_a_frame(
        payloads: list[bytes], greet: bool, cuts: list[int]) -> None:
    # MessageConversation keeps ``partial`` as an attribute, set after each callback
    # that may change it (its fast path leaves it alone): whatever the byte split, the
    # deadline runs exactly while the bytes received end inside a frame
    codec = get_codec("msgpack")
    frames = [encode_frame(codec.dumps(p)) for p in payloads]
    if greet:
        frames.insert(0, encode_frame(hello.client_hello("msgpack")))
    stream = b"".join(frames)
    ends = set(itertools.accumulate(len(f) for f in frames)) | {0}
    clock = Clock()
    driver = Driver(Limits(), clock=clock)
    driver.open(_Same().conversation, Context(limits=driver.limits))
    offset = 0
    for cut in itertools.cycle(cuts):
        if offset >= len(stream):
            break
        chunk = stream[offset:offset + cut]
        offset += len(chunk)
        clock.advance(0.01)
        out = driver.receive(chunk)
        if out is None:
            flush(driver)
        assert driver.finished is None
        assert (driver.message_started is not None) == (offset not in ends), offset


class _OnlyPartial(Conversation):
    """Echoes; tells the driver only ``partial`` (as a message service does)."""

    def __init__(self) -> None:
        self.is_partial = False

    def data_received(self, data: bytes) -> list[Action]:
        return [Send(data)]

    @property
    def partial(self) -> bool:
        return self.is_partial


_NEAR_STEPS = ("data", "partial", "whole", "pause", "no pause", "tick", "long tick",
               "timer", "flush", "two")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_NEAR_STEPS), max_size=25), st.booleans(), st.booleans())
def test_a_lone_reply_without_nearer_changes_nothing_a_loop_watches(
        steps: list[str], pausing_kind: bool, peer_deadlines: bool) -> None:
    # the select and async models skip their update after a lone reply unless the driver
    # says ``nearer``: then it must still read, not be finished, and no deadline may
    # have come nearer than the one before the receive
    clock = Clock()
    driver = Driver(Limits(idle_timeout=30, pause=0.05, message_timeout=2), clock=clock,
                    peer_deadlines=peer_deadlines)
    conv: Scripted | _OnlyPartial
    if pausing_kind:
        driver.open(lambda ctx: Scripted(ctx), Context(limits=driver.limits))
        assert isinstance(driver.conversation, Scripted)
        conv = driver.conversation
    else:
        conv = _OnlyPartial()
        driver.open(lambda ctx: conv, Context(limits=driver.limits))
    for step in steps:
        before = driver.deadline
        reply = None
        if step == "data":
            reply = driver.receive(b"x")
        elif step in ("partial", "whole"):
            conv.is_partial = step == "partial"
            reply = driver.receive(b"y")
        elif step in ("pause", "no pause"):
            if isinstance(conv, Scripted):
                conv.want_pause = step == "pause"
            reply = driver.receive(b"z")
        elif step == "two" and isinstance(conv, Scripted):
            conv.replies.append([Send(b"a"), Send(b"b")])  # not a lone reply: queued
            reply = driver.receive(b"w")
        elif step != "two":
            _time_step(driver, clock, step)
        if reply is not None and not driver.nearer:
            assert driver.wants_read and driver.finished is None
            assert driver.deadline >= before, step


@pytest.mark.parametrize(("limits", "peer_deadlines"), [
    (Limits(idle_timeout=math.inf), True),
    (Limits(pause=math.inf), True),
    (Limits(message_timeout=math.inf), False),
])
def test_an_infinite_limit_is_no_deadline_for_a_blocking_receive(
        limits: Limits, peer_deadlines: bool) -> None:
    # (an infinite timeout reached the socket's setsockopt and raised OverflowError)
    driver, conv, _, _ = make(limits, peer_deadlines=peer_deadlines)
    conv.want_pause = limits.pause == math.inf
    conv.is_partial = not peer_deadlines
    driver.receive(b"x")
    flush(driver)
    assert driver.receive_timeout() == driver.timeout()
    assert driver.receive_timeout() is None or driver.receive_timeout() < math.inf


def test_a_protocol_switch_steps_aside_for_the_conversation_it_chose() -> None:
    # the first byte picks framed or classic; from then on the driver talks to the
    # chosen conversation itself and reads only the rules its class overrides
    for first, framed in ((encode_frame(get_codec("msgpack").dumps("hi")), True),
                          (b"hi\n", False)):
        clock = Clock()
        driver = Driver(Limits(message_timeout=2), clock=clock)
        driver.open(make_service("upper").conversation, Context(limits=driver.limits))
        switch = driver.conversation
        reply = driver.receive(first)
        assert reply is not None and b"HI" in reply
        chosen = driver.conversation
        assert chosen is not switch and not isinstance(chosen, FirstByteSwitch)
        assert isinstance(chosen, MessageConversation) == framed
        driver.receive(first[:2])  # part of the next message: its deadline runs
        assert driver.message_started == clock.now
        driver.abort("done")
        assert driver.finished == "done"


def test_an_authkey_gate_steps_aside_once_the_peer_is_in() -> None:
    key = b"secret"
    driver = Driver(Limits())
    driver.open(lambda context: AuthGate(context, _Same().conversation, authkey=key),
                Context(limits=driver.limits))
    gate = driver.conversation
    client = Handshake(key, Role.CLIENT, os.urandom(40))
    frames = FrameDecoder()
    frames.feed(flush(driver))  # the challenge, sent when the gate opened
    while not client.done:
        outgoing = []
        while (frame := frames.next_frame()) is not None:
            outgoing += client.receive(frame)
        out = driver.receive(b"".join(encode_frame(m) for m in outgoing))
        frames.feed(out if out is not None else flush(driver))
    assert driver.conversation is not gate
    request = encode_frame(get_codec("msgpack").dumps([1, 2]))
    reply = driver.receive(request)
    assert reply is not None and get_codec("msgpack").loads(reply[4:]) == {"ok": [1, 2]}


def test_a_switch_that_does_work_of_its_own_keeps_routing() -> None:
    # a room's switch flushes its broker in closed(): stepping aside would skip that
    calls: list[str] = []

    class Flushing(FirstByteSwitch):
        def closed(self) -> None:
            super().closed()
            calls.append("flushed")

    driver = Driver(Limits())
    driver.open(lambda context: Flushing(context, classic=lambda ctx: Scripted(ctx),
                                         framed=lambda ctx: Scripted(ctx)),
                Context(limits=driver.limits))
    switch = driver.conversation
    assert driver.receive(b"hi\n") == b"hi\n"
    assert driver.conversation is switch
    driver.abort("done")
    assert calls == ["flushed"]
