"""One connection's state machine: the conversation, its output, its deadlines.

Sans-I/O, like h11's ``Connection``: the model says what happened and asks what to do.

* in: :meth:`Driver.receive` (bytes arrived, ``b""`` at end of stream),
  :meth:`Driver.progress` (the transport took bytes of :meth:`Driver.head`),
  :meth:`Driver.timer` (a deadline may have passed), :meth:`Driver.drain` (something
  was pushed; the driver's ``waker`` asked for this), :meth:`Driver.fail`;
* out: :meth:`Driver.head` (what to send next: a memoryview or a :class:`Region` of a
  file), :attr:`Driver.wants_read`, :attr:`Driver.deadline`, :attr:`Driver.finished`
  (the reason the connection is over; the model then closes the transport).

The rules it keeps, identical under every model:

* **Output** is queued in order: replies, file regions, pushed actions. A Close lets
  the queue drain, then finishes the connection.
* **Back-pressure.** Reading stops while ``high_water`` bytes are queued, while a
  conversation holds answered-later messages (it returned :data:`PENDING`), and after
  the peer's end of stream. :meth:`Conversation.resume` is called when the queue is
  under half the high-water mark and no file region is left to send.
* **Deadlines**, on the injected clock: *send* (the transport took nothing for
  ``send_timeout`` while output waits), *message* (a message not whole
  ``message_timeout`` after its first byte; a conversation may shorten it with
  ``message_limit``), *pause* (the peer quiet for ``pause`` while the conversation
  ``wants_pause``: :meth:`Conversation.paused` is called once per quiet period), *idle*
  (nothing received for ``idle_timeout``, or the conversation's ``idle_limit``, while
  nothing is queued). ``peer_deadlines=False`` (a ``pipe:`` child: its peer is its
  parent) keeps only the send deadline and the pause.
* **End of stream** goes to :meth:`Conversation.eof_received` once every held message
  has been answered; the connection stays open for writing until the conversation
  closes it (the default answer to an end of stream is Close).
* **Push.** :meth:`push` (a conversation's :meth:`Context.push`) is thread-safe. A push
  made by the conversation's own callback is carried out when the callback returns,
  before what it returned; any other push calls ``waker()``, and the model then calls
  :meth:`drain` on the driver's thread.
* **Failures.** An exception from the conversation ends this connection only
  ("dropped: service error", logged with its traceback), never the model.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from hosepipe.limits import Limits
from hosepipe.service import (
    Action,
    Close,
    Context,
    Conversation,
    Outlet,
    Pending,
    Resume,
    Send,
    SendFile,
    Waiting,
    release,
)

__all__ = ["Driver", "Region"]

log = logging.getLogger("hosepipe.server")

Clock = Callable[[], float]
Done = Callable[[str, int, int], None]  # (reason, bytes in, bytes out)


class Region:
    """A file region waiting in the output queue; the driver owns its descriptor."""

    __slots__ = ("count", "fd", "offset", "remaining")

    def __init__(self, action: SendFile) -> None:
        self.fd = action.fd
        self.offset = action.offset
        self.count = self.remaining = action.size()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _nothing() -> None:
    pass


_INF = math.inf
_NEVER = -math.inf  # paused_at before any pause: one float for every driver
# ``out`` while nothing is queued, for every driver: a list is made on demand (typed as
# one, since it is only read: truth, iteration, slicing)
_EMPTY: Any = ()

# What a conversation tells the driver after each callback, as properties it may
# override; a driver reads only those its conversation's class overrides (a bit each,
# cached per class). A class that overrides none (echo) has nothing to tell.
_PARTIAL, _PAUSE, _IDLE, _MESSAGE = 1, 2, 4, 8
_TOLD = (("partial", _PARTIAL), ("wants_pause", _PAUSE), ("idle_limit", _IDLE),
         ("message_limit", _MESSAGE))
_TELLS: dict[type, int] = {}  # per class; at most 1024 kept


def _tells(kind: type) -> int:
    tells = _TELLS.get(kind)
    if tells is None:
        tells = sum(bit for name, bit in _TOLD
                    if getattr(kind, name, None) is not getattr(Conversation, name))
        if len(_TELLS) < 1024:
            _TELLS[kind] = tells
    return tells


# What holds a connection, a bit each of Driver._state: one word for seven flags, so
# that "may it read?" is one test and an idle driver carries one slot, not seven.
_CLOSING = 1  # Close queued: finish once ``out`` is empty
_EOF = 2  # the peer ended its stream
_EOF_HELD = 4  # ... and eof_received() waits for the held messages
_BACKLOG = 8  # the conversation returned PENDING
_WAITING = 16  # ... or WAITING: it pushes RESUME when its work is done
_RESUME_NOW = 32  # RESUME was pushed
_PAUSE_WANTED = 64  # the conversation wants_pause
_ENDED = 128  # finished
_NO_PEER_DEADLINES = 256  # made with peer_deadlines=False (a pipe: child)
_NO_READ = _CLOSING | _EOF | _BACKLOG | _WAITING | _ENDED
_PAUSE_ONLY = _PAUSE_WANTED | _EOF  # pausing: the first without the second


# The lock that guards a driver's pushes (taken briefly, never two at once): one of a
# few shared ones, rather than a lock object for each of thousands of idle connections.
# A forked child gets new ones: another thread of the parent may have held one at the
# fork, and nobody would ever release it in the child.
def _new_locks() -> tuple[threading.Lock, ...]:
    return tuple(threading.Lock() for _ in range(64))


_LOCKS = _new_locks()


def _renew_locks() -> None:
    global _LOCKS  # rebound once per fork; read when a driver is made
    _LOCKS = _new_locks()


os.register_at_fork(after_in_child=_renew_locks)


class Driver(Outlet):
    """Drives one conversation; see the module docstring for the rules."""

    # an idle connection is mostly this object: slots, and a list (not a deque) for the
    # pushes, keep it under a kilobyte
    __slots__ = ("_busy", "_idle", "_inbox", "_inbox_bytes", "_message", "_state",
                 "_tells", "clock", "conversation", "finished", "last_progress",
                 "last_read", "limits", "message_started", "nearer", "on_done", "out",
                 "paused_at", "queued", "received", "regions", "sent", "thread", "waker")

    def __init__(self, limits: Limits, *, clock: Clock = time.monotonic,
                 peer_deadlines: bool = True, waker: Callable[[], None] = _nothing,
                 on_done: Done | None = None, thread: int | None = None) -> None:
        """``on_done`` is called once, when the connection is over; its ``str()``
        names the connection in log lines ("SERVICE ADDRESS: PEER": a Tally)."""
        self.limits = limits
        self.clock = clock
        self.waker = waker
        self.on_done = on_done
        self.conversation: Conversation | None = None
        # the thread that drives us (models update it); a loop passes its own, one int
        # object for all its drivers
        self.thread = threading.get_ident() if thread is None else thread
        self.out: list[memoryview | Region] = _EMPTY
        self.queued = 0  # bytes in ``out``
        self.regions = 0  # Regions in ``out``
        self.received = self.sent = 0
        self.finished: str | None = None
        self._state = 0 if peer_deadlines else _NO_PEER_DEADLINES  # the flags above
        self.last_read = clock()
        # when the transport last took bytes; read only while output waits (the send
        # deadline), so an idle connection keeps the shared -inf, not a float of its own
        self.last_progress = _NEVER
        self.message_started: float | None = None
        self.paused_at = _NEVER  # last_read when paused() last fired
        self._idle = limits.idle_timeout
        self._message = limits.message_timeout
        self._inbox: list[Action] | None = None  # pushed, not yet queued (made on demand)
        self._inbox_bytes = 0
        self._busy = False  # inside one of the conversation's callbacks
        self.nearer = False  # see receive()
        self._tells = _PARTIAL | _PAUSE | _IDLE | _MESSAGE  # what to read (set by open)

    # -- starting ----------------------------------------------------------------------
    def open(self, make: Callable[[Context], Conversation], context: Context) -> None:
        """Create the conversation for ``context`` (which pushes to us) and open it."""
        context.attach(self)
        try:
            self.conversation = make(context)
        except Exception:
            log.exception("%s: cannot start a conversation", self.label)
            self._finish("dropped: service error")
            return
        self._tells = _tells(type(self.conversation))
        self._call(self.conversation.opened)

    # -- events from the model ------------------------------------------------------------
    def receive(self, data: bytes) -> bytes | None:
        """Bytes from the peer (``b""``: end of stream). Returns bytes to send at once
        when a single reply is all there is to do (the model sends them, or hands back
        what it could not send with :meth:`unsent`); else None, the output is queued.

        When it returns bytes, nothing else has changed but the time of the last read:
        the driver still wants to read and has not finished, and unless :attr:`nearer`
        is true, no deadline came nearer. A model whose timers are lazy (re-armed when
        they fire early) then has nothing to update."""
        if not data:
            self._end_of_stream()
            return None
        conversation = self.conversation
        if conversation is None or self.finished:
            return None
        self.received += len(data)
        self.last_read = self.clock()
        self._busy = True
        nearer = False
        try:
            actions = conversation.data_received(data)
            tells = self._tells  # else the defaults, which __init__ set, still hold
            if tells:
                if tells == _PARTIAL and not conversation.partial:  # a message service
                    self.message_started = None
                else:
                    nearer = self._note(conversation)
        except Exception:
            self._busy = False
            self._failed()
            return None
        self._busy = False
        if len(actions) == 1 and not self.out and not self._inbox:
            action = actions[0]
            if type(action) is Send:  # the usual case: one reply, nothing waiting
                self.nearer = nearer
                self.sent += len(action.data)
                return action.data
        self._settle(actions)
        return None

    def unsent(self, rest: memoryview) -> None:
        """The transport took only part of what :meth:`receive` returned: queue the rest."""
        self.sent -= len(rest)
        self.last_progress = self.clock()  # the send deadline starts now
        self._output().append(rest)
        self.queued += len(rest)

    def _output(self) -> list[memoryview | Region]:
        """``out``, as a list of its own (made when the first item is queued)."""
        if self.out is _EMPTY:
            self.out = []
        return self.out

    def head(self) -> memoryview | Region | None:
        """What to send next, or None."""
        return self.out[0] if self.out else None

    def gather(self, most: int = 64) -> list[memoryview]:
        """The leading byte items of the queue (up to ``most``), for one vectored send
        (``sendmsg``); empty if the head is a file region."""
        views = []
        for item in self.out[:most]:
            if type(item) is not memoryview:
                break
            views.append(item)
        return views

    def progress(self, n: int) -> None:
        """The transport took ``n`` bytes from the head of the queue: from its first
        byte items (a vectored send may cover several), or from the head region."""
        out = self.out  # a list: something was sent from it
        self.queued -= n
        self.sent += n
        self.last_progress = self.clock()
        while n > 0 and out:
            head = out[0]
            if type(head) is memoryview:
                size = len(head)
                if n < size:
                    out[0] = head[n:]
                    break
                del out[0]
                n -= size
                continue
            assert isinstance(head, Region)
            head.offset += n
            head.remaining -= n
            if head.remaining <= 0:
                head.close()
                del out[0]
                self.regions -= 1
            break
        if not out:
            self.out = _EMPTY  # an idle connection keeps no list ...
            self.last_progress = _NEVER  # ... nor a float
            self._drained()
        elif self.queued < self.limits.high_water // 2:
            self._drained()

    def region_short(self) -> None:
        """The file of the head region ended early (it shrank): the peer was promised
        more bytes than exist, so the connection cannot go on."""
        self._finish("dropped: a file shrank while it was being sent")

    def timer(self) -> None:
        """A deadline may have passed: act on the first one that has."""
        if self.finished:
            return
        now = self.clock()
        limits = self.limits
        if self.out and now >= self.last_progress + limits.send_timeout:
            self._finish(f"dropped: accepted no data for {limits.send_timeout:g} s")
        elif self.message_started is not None and now >= self.message_started + self._message:
            self._finish(f"dropped: message incomplete after {self._message:g} s")
        elif self._pausing and now >= self.last_read + limits.pause:
            self.paused_at = self.last_read
            assert self.conversation is not None
            self._call(self.conversation.paused)
        elif self._idling and now >= self.last_read + self._idle:
            self._finish(f"idle for {self._idle:g} s")

    def drain(self) -> None:
        """Carry out what was pushed (the model calls this after ``waker()``)."""
        if self._inbox and not self.finished:
            self._settle([])

    def fail(self, reason: str) -> None:
        """The transport failed: finish now ("dropped: REASON")."""
        self._finish(f"dropped: {reason}")

    def abort(self, reason: str) -> None:
        """The model ends the connection now ("cut at shutdown"), output or not."""
        self._finish(reason)

    # -- what the model asks -------------------------------------------------------------
    @property
    def wants_read(self) -> bool:
        return not self._state & _NO_READ and self.queued < self.limits.high_water

    @property
    def label(self) -> object:
        """What names the connection in log lines (``on_done``, a Tally, if given)."""
        return self.on_done if self.on_done is not None else "-"

    @property
    def peer_deadlines(self) -> bool:
        """False for a peer that lives as long as we do (a ``pipe:`` child's parent):
        only the send deadline and the pause are kept."""
        return not self._state & _NO_PEER_DEADLINES

    @property
    def _lock(self) -> threading.Lock:
        """One of the shared push locks, always the same for this driver."""
        return _LOCKS[id(self) >> 4 & (len(_LOCKS) - 1)]

    @property
    def closing(self) -> bool:
        """A Close is queued: the connection finishes once its output has gone."""
        return bool(self._state & _CLOSING)

    @property
    def eof(self) -> bool:
        """The peer has ended its stream."""
        return bool(self._state & _EOF)

    @property
    def backlog(self) -> bool:
        """The conversation holds messages it will answer later (it returned PENDING)."""
        return bool(self._state & _BACKLOG)

    @property
    def waiting(self) -> bool:
        """The conversation waits for work done elsewhere (it returned WAITING)."""
        return bool(self._state & _WAITING)

    @property
    def resting(self) -> bool:
        """True while nothing is held: no output, no partial message, no answers held
        back, no pause to wait for -- the connection only waits for its peer."""
        return not (self.out or self._state & _NO_READ or self.message_started is not None
                    or self._pausing)

    @property
    def _pausing(self) -> bool:
        return self._state & _PAUSE_ONLY == _PAUSE_WANTED and self.paused_at != self.last_read

    @property
    def _idling(self) -> bool:
        return not (self._state & _NO_PEER_DEADLINES or self.out)

    @property
    def deadline(self) -> float:
        """When :meth:`timer` should next be called (``inf``: no deadline)."""
        if self.finished:
            return _INF
        if self.out:
            due = self.last_progress + self.limits.send_timeout
        elif self._state & _PAUSE_ONLY == _PAUSE_WANTED and self.paused_at != self.last_read:
            due = self.last_read + self.limits.pause  # _pausing, inline: once per read
        elif not self._state & _NO_PEER_DEADLINES:  # _idling, with nothing out
            due = self.last_read + self._idle
        else:
            due = _INF
        if self.message_started is not None:
            due = min(due, self.message_started + self._message)
        return due

    def timeout(self) -> float | None:
        """Seconds until :attr:`deadline` (None: none), for a blocking receive or send."""
        due = self.deadline
        return None if due == _INF else max(0.0, due - self.clock())

    def receive_timeout(self) -> float | None:
        """For a blocking loop, asked while nothing is queued: how long the next receive
        may wait (:meth:`timeout`; None: no deadline), or -1.0 when no bytes are wanted
        now (not :attr:`wants_read`). One call per receive, where asking both costs
        three."""
        state = self._state
        if state & _NO_READ:
            return -1.0
        # :attr:`deadline` with nothing queued and no end of stream
        if state & _PAUSE_WANTED and self.paused_at != self.last_read:
            due = self.last_read + self.limits.pause
        elif not state & _NO_PEER_DEADLINES:
            due = self.last_read + self._idle
        else:
            due = _INF
        if self.message_started is not None:
            due = min(due, self.message_started + self._message)
        if due == _INF:  # (a limit may be infinite: no deadline)
            return None
        left = due - self.clock()
        return left if left > 0.0 else 0.0

    # -- pushing (any thread) -----------------------------------------------------------------
    def push(self, actions: tuple[Action, ...]) -> bool:
        with self._lock:
            if self.finished:
                return False
            if self._inbox is None:
                self._inbox = []
            self._inbox.extend(actions)
            self._inbox_bytes += sum(len(a.data) for a in actions if type(a) is Send)
        if not (self._busy and threading.get_ident() == self.thread):
            self.waker()
        return True

    @property
    def pending_output(self) -> int:
        return self.queued + self._inbox_bytes

    def delegate(self, conversation: Conversation) -> None:
        """The conversation steps aside for ``conversation`` (see
        :meth:`Context.delegate`). Called inside its callback, on our thread: the rules
        read when that callback returns (from the router, which asks ``conversation``)
        leave the driver as ``conversation``'s own would, so only the rules to read
        from then on change."""
        if self._busy and threading.get_ident() == self.thread and not self.finished:
            self.conversation = conversation
            self._tells = _tells(type(conversation))

    # -- inside ------------------------------------------------------------------------------
    def _call(self, callback: Callable[[], list[Action]]) -> None:
        """Run a conversation callback and carry out what it returns."""
        self._busy = True
        try:
            actions = callback()
            if self._tells:
                assert self.conversation is not None
                self._note(self.conversation)
        except Exception:
            self._busy = False
            self._failed()
            return
        self._busy = False
        self._settle(actions)

    def _note(self, conversation: Conversation) -> bool:
        """What the conversation expects of the peer now (after each of its callbacks);
        a rule its class does not override keeps the default set by __init__. True if
        a deadline may have come nearer (a message begun, a pause wanted, a limit of
        the conversation's own), judged generously."""
        tells = self._tells
        nearer = bool(tells & (_IDLE | _MESSAGE))
        if tells & _PARTIAL:
            if not (conversation.partial
                    and not self._state & (_BACKLOG | _NO_PEER_DEADLINES)):
                self.message_started = None
            elif self.message_started is None:
                self.message_started = self.clock()
                nearer = True
        if tells & _PAUSE:
            if conversation.wants_pause:
                self._state |= _PAUSE_WANTED
                nearer = True
            else:
                self._state &= ~_PAUSE_WANTED
        if tells & _IDLE:
            self._idle = conversation.idle_limit or self.limits.idle_timeout
        if tells & _MESSAGE:
            self._message = conversation.message_limit or self.limits.message_timeout
        return nearer

    def _settle(self, actions: list[Action]) -> None:
        """Queue what was pushed, then ``actions``; then act on a drained queue."""
        if self._inbox:
            with self._lock:
                pushed = self._inbox or []
                self._inbox = None
                self._inbox_bytes = 0
            actions = [*pushed, *actions]
        self._queue(actions)
        if not self.out or self.queued < self.limits.high_water // 2:
            self._drained()

    def _queue(self, actions: Iterable[Action]) -> None:
        actions = list(actions)
        was_empty = not self.out
        for index, action in enumerate(actions):
            if self._state & (_CLOSING | _ENDED):
                release(actions[index:])
                break
            if type(action) is Send:
                if action.data:
                    self._output().append(memoryview(action.data))
                    self.queued += len(action.data)
            elif isinstance(action, SendFile):
                region = Region(action)
                if region.remaining:
                    self._output().append(region)
                    self.queued += region.remaining
                    self.regions += 1
                else:
                    action.close()
            else:
                self._flag(action)
        if was_empty and self.out:
            self.last_progress = self.clock()  # the send deadline starts now

    def _flag(self, action: Action) -> None:
        """An action that sends nothing: Close, Pending, Waiting or Resume."""
        if isinstance(action, Close):
            self._state |= _CLOSING
        elif isinstance(action, Pending):
            self._state |= _BACKLOG
        elif isinstance(action, Waiting):
            self._state |= _WAITING
        elif isinstance(action, Resume):
            self._state |= _RESUME_NOW

    def _drained(self) -> None:
        """The queue has room: answer held messages, deliver a held end of stream,
        finish a closing connection."""
        for _ in range(1000):  # bounded: each round queues output or clears a flag
            state = self._state
            if state & _ENDED:
                return
            if state & _RESUME_NOW:  # the work it waited for is done
                self._state = state & ~(_RESUME_NOW | _WAITING | _BACKLOG)
                assert self.conversation is not None
                self._call(self.conversation.resume)
                continue
            if state & _WAITING:
                break
            if (state & _BACKLOG and not self.regions
                    and self.queued < self.limits.high_water // 2):
                self._state = state & ~_BACKLOG
                assert self.conversation is not None
                self._call(self.conversation.resume)
                continue
            if state & (_EOF_HELD | _BACKLOG) == _EOF_HELD:  # (not waiting: see above)
                self._state = state & ~_EOF_HELD
                assert self.conversation is not None
                self._call(self.conversation.eof_received)
                continue
            break
        if self._state & _CLOSING and not self.out:
            self._finish("closed")

    def _end_of_stream(self) -> None:
        if self._state & (_EOF | _ENDED):
            return
        self._state |= _EOF
        self.message_started = None
        if self._state & (_BACKLOG | _WAITING):
            self._state |= _EOF_HELD
        else:
            assert self.conversation is not None
            self._call(self.conversation.eof_received)

    def _failed(self) -> None:
        log.exception("%s: the conversation failed", self.label)
        self._finish("dropped: service error")

    def _finish(self, reason: str) -> None:
        if self.finished:
            return
        with self._lock:
            self.finished = reason
            self._state |= _ENDED
            pushed = self._inbox or []
            self._inbox = None
        release(pushed)
        for item in self.out:
            if isinstance(item, Region):
                item.close()
        self.out = _EMPTY
        self.queued = self.regions = 0
        if self.conversation is not None:
            try:
                self.conversation.closed()
            except Exception:
                log.exception("%s: the conversation failed while closing", self.label)
        if self.on_done is not None:
            self.on_done(reason, self.received, self.sent)
