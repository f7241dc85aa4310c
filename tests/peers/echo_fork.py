"""The forking echo server of the sockets chapter (seed 004, "Forking Servers").

A child per connection answers each ``recv(1024)`` with ``'Echo=>%s at %s' % (data,
now())`` -- under Python 3, ``data`` is bytes, so the reply reads
``Echo=>b'hello\\n' at Sat Nov 21 10:00:00 2026``, with no newline. When the client
closes, the child leaves its loop and, as in the tutorial (whose child goes back to
the accept loop holding the connection), never closes the connection: a client that
waits for the end of the stream waits for ever.
"""

from __future__ import annotations

import os
import signal
import socket
import time

from tests.peers import listen


def now() -> str:
    return time.ctime(time.time())


def handle_client(connection: socket.socket) -> None:
    while True:
        data = connection.recv(1024)  # read next line on client socket
        if not data:
            break
        reply = "Echo=>%s at %s" % (data, now())  # noqa: UP031 - bytes shown as b'...'
        connection.send(reply.encode())  # until eof when socket closed


def dispatcher() -> None:
    sockobj = listen()
    active_children = []
    while True:
        connection, address = sockobj.accept()
        print("Server connected by", address, "at", now(), flush=True)
        while active_children:  # reapChildren
            pid, _ = os.waitpid(0, os.WNOHANG)
            if not pid:
                break
            active_children.remove(pid)
        child_pid = os.fork()
        if child_pid == 0:
            handle_client(connection)
            while True:  # the connection stays open until the peer is ended
                signal.pause()
        active_children.append(child_pid)


if __name__ == "__main__":
    dispatcher()
