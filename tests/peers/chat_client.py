"""The chat client of the Python sockets tutorial (seed 003).

``python -m tests.peers.chat_client PORT``: connect to 127.0.0.1:PORT (the tutorial's
is fixed at 5001), then ``input("type message: ")``, send it as typed (no newline),
one ``recv(1024)``, print ``Received from server: `` and the data, and again, until
the person types ``q``.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    host = "127.0.0.1"
    port = int(sys.argv[1])
    obj = socket.socket()
    obj.connect((host, port))
    message = input("type message: ")
    while message != "q":
        obj.send(message.encode())
        data = obj.recv(1024).decode()
        print("Received from server: " + data)
        message = input("type message: ")
    obj.close()


if __name__ == "__main__":
    main()
