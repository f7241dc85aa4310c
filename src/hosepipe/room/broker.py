"""Rooms across processes and machines: PostgreSQL ``LISTEN``/``NOTIFY`` on one channel.

Every process that serves room members (a thread/select/async server, each of
``--workers N``, each fork child) is a *server* with an id of its own. Each event that
starts in it is published as one notification, a JSON object::

    {"s": SERVER, "q": SEQUENCE, "r": ROOM, "k": KIND, "n": NICK, "t": TEXT}

and each server listens on the channel and hands the events of the others to its
:class:`~hosepipe.room.registry.Registry` (its own come back too and are ignored: its
members were told directly, at once). Order: one publishing connection per server sends
the events in the order they happened (a queue, drained by one thread, in
transactions), and PostgreSQL delivers notifications in commit order, so every
sender's lines arrive in order everywhere; ``q`` rises by one per event of a server,
so a retried batch is not delivered twice. A notification carries at most 8000 bytes:
with a broker, ``max_line`` is at most :data:`BROKER_MAX_LINE`.

Both connections reconnect with backoff (0.1 s doubling to 5 s). While either is down
the members here are told ``* broker lost, reconnecting``, then ``* broker back``; the
server then asks the others who is in its rooms again (``sync``), and asks once more
whenever it hears from a server it has not heard from since (that one may have been
reconnecting too, and missed the first question). Events published by
others while this server was not listening are lost (NOTIFY keeps no history).
The listening connection's ``application_name`` is ``hosepipe-room-listen``.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import threading
import uuid
from typing import Any

import psycopg
from psycopg import sql

from hosepipe.room.protocol import Event
from hosepipe.room.registry import Registry

__all__ = ["BROKER_MAX_LINE", "MAX_PAYLOAD", "Broker", "check_broker"]

log = logging.getLogger("hosepipe.room")

MAX_PAYLOAD = 7999  # PostgreSQL refuses a notification payload of 8000 bytes or more
BROKER_MAX_LINE = 3800  # JSON may double a line (quotes, backslashes), plus the envelope
MAX_BACKLOG = 10_000  # events waiting for the publishing connection; more are dropped
BACKOFF = (0.1, 5.0)
LISTEN_NAME = "hosepipe-room-listen"


def check_broker(url: str) -> None:
    """Connect once (at start), so a broker that cannot be reached is said at once."""
    with psycopg.connect(url, connect_timeout=10, autocommit=True) as connection:
        connection.execute("SELECT 1")


class Broker:
    """One server's two connections to the broker: one publishes, one listens."""

    def __init__(self, url: str, channel: str, registry: Registry) -> None:
        self.url = url
        self.channel = channel
        self.registry = registry
        self.server = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.seq = 0
        self.seen: dict[str, int] = {}
        self.known: set[str] = set()  # servers heard from since we last began to listen
        self.backlog: collections.deque[str] = collections.deque()
        self.busy = False
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.listening = threading.Event()
        self.lost: set[str] = set()  # the connections that are down now
        self.threads = [threading.Thread(target=self._listen, name="room-listen", daemon=True),
                        threading.Thread(target=self._publish, name="room-publish",
                                         daemon=True)]

    def start(self, timeout: float = 10.0) -> None:
        """Start both threads; wait (up to ``timeout``) until the channel is listened
        to, so events published after this are heard."""
        for thread in self.threads:
            thread.start()
        if not self.listening.wait(timeout):
            log.warning("room broker: not listening after %.0f s; going on", timeout)

    # -- publishing ------------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Queue ``event`` for the others (any thread; call in the order of events)."""
        with self.cond:
            self.seq += 1
            payload = json.dumps({"s": self.server, "q": self.seq, "r": event.room,
                                  "k": event.kind, "n": event.nick, "t": event.text},
                                 ensure_ascii=False, separators=(",", ":"))
            if len(payload.encode()) > MAX_PAYLOAD:
                log.warning("room broker: event over %d bytes not published", MAX_PAYLOAD)
                return
            if len(self.backlog) >= MAX_BACKLOG:
                log.warning("room broker: backlog full; an event is dropped")
                return
            self.backlog.append(payload)
            self.cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued event is published; False past ``timeout``."""
        with self.cond:
            return self.cond.wait_for(lambda: not self.backlog and not self.busy, timeout)

    def _publish(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        delay = BACKOFF[0]
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.backlog or self.stopping.is_set())
                if not self.backlog:
                    break
                batch = list(self.backlog)
                self.busy = True
            try:
                if connection is None:
                    connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                                 application_name="hosepipe-room-publish")
                    self._up("publish")
                with connection.transaction():
                    for payload in batch:
                        connection.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
            except psycopg.Error as exc:
                connection = self._close(connection)
                self._down("publish", exc)
                with self.cond:
                    self.busy = False
                if self.stopping.wait(delay):
                    break
                delay = min(delay * 2, BACKOFF[1])
                continue
            delay = BACKOFF[0]
            with self.cond:
                for _ in batch:
                    self.backlog.popleft()
                self.busy = False
                self.cond.notify_all()
        self._close(connection)

    # -- listening -------------------------------------------------------------------------------
    def _listen(self) -> None:
        delay = BACKOFF[0]
        while not self.stopping.is_set():
            connection = None
            try:
                connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                             application_name=LISTEN_NAME)
                connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                self.listening.set()
                self._up("listen")
                delay = BACKOFF[0]
                while not self.stopping.is_set():
                    for note in connection.notifies(timeout=0.5):
                        self._heard(note.payload)
            except psycopg.Error as exc:
                self._down("listen", exc)
            finally:
                self._close(connection)
            if self.stopping.wait(delay):
                break
            delay = min(delay * 2, BACKOFF[1])

    def _heard(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            server, seq = str(data["s"]), int(data["q"])
            event = Event(str(data["k"]), str(data["r"]), str(data["n"]), str(data["t"]))
        except (ValueError, KeyError, TypeError):
            log.warning("room broker: a notification that is not ours: %.80r", payload)
            return
        if server == self.server or seq <= self.seen.get(server, 0):
            return  # our own (told directly), or a batch delivered twice
        self.seen[server] = seq
        if event.kind == "gone":
            self.registry.forget(server)
            self.seen.pop(server, None)
            self.known.discard(server)
            return
        self.registry.remote(server, event)
        if server not in self.known:  # it may have missed our sync (both reconnecting):
            self.known.add(server)    # ask again, once per server heard anew
            self.registry.resync(forget=False)

    # -- state -------------------------------------------------------------------------------
    def _down(self, which: str, exc: Exception) -> None:
        if self.stopping.is_set():
            return
        first = not self.lost
        self.lost.add(which)
        log.warning("room broker: %s connection lost: %s", which,
                    (str(exc).strip().splitlines() or ["?"])[0])
        if first:
            self.registry.tell_everyone(Event("info", text="broker lost, reconnecting"))

    def _up(self, which: str) -> None:
        if which not in self.lost:
            return
        self.lost.discard(which)
        if which == "listen":  # heard nothing meanwhile: ask again (queued if need be)
            self.known.clear()
            self.registry.resync()
        if not self.lost:
            log.info("room broker: back")
            self.registry.tell_everyone(Event("info", text="broker back"))

    @staticmethod
    def _close(connection: psycopg.Connection[Any] | None) -> None:
        if connection is not None:
            try:
                connection.close()
            except psycopg.Error:
                pass

    def close(self, timeout: float = 5.0) -> None:
        """Say this server is gone, publish what is queued, stop both threads."""
        self.publish(Event("gone"))
        self.flush(timeout)
        self.stopping.set()
        with self.cond:
            self.cond.notify_all()
        for thread in self.threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)
