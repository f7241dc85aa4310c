"""The getfile server of the sockets chapter (seed 004, "A Simple Python File Server").

A thread per client reads one line (the file name, relative to the working
directory) through ``makefile('r')``, then sends the file in 1 KiB ``send`` calls, and
the connection closes when the thread ends. A name that cannot be opened is printed
and the connection closes with nothing sent.
"""

from __future__ import annotations

import socket
import threading
import time

from tests.peers import listen

BLKSZ = 1024


def now() -> str:
    return time.asctime()


def serverthread(clientsock: socket.socket) -> None:
    sockfile = clientsock.makefile("r")  # wrap socket in dup file obj
    filename = sockfile.readline()[:-1]  # get filename up to end-line
    try:
        file = open(filename, "rb")  # noqa: SIM115
        while True:
            data = file.read(BLKSZ)  # read/send 1K at a time
            if not data:
                break  # until file totally sent
            sent = clientsock.send(data)
            assert sent == len(data)
        file.close()
    except Exception:
        print("Error downloading file on server:", filename, flush=True)
    sockfile.close()  # what the tutorial leaves to the garbage collector
    clientsock.close()


def server() -> None:
    serversock = listen()
    while True:
        clientsock, clientaddr = serversock.accept()
        print("Server connected by", clientaddr, "at", now(), flush=True)
        threading.Thread(target=serverthread, args=(clientsock,), daemon=True).start()


if __name__ == "__main__":
    server()
