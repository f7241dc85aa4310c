"""The first echo server of the sockets chapter (seed 004, "Socket Basics").

One client at a time; every ``recv(1024)`` comes back as ``b'Echo =>' + data``; the
connection closes when the client closes.
"""

from __future__ import annotations

from tests.peers import listen


def main() -> None:
    sockobj = listen()
    while True:
        connection, address = sockobj.accept()
        print("Server connected by", address, flush=True)
        while True:
            data = connection.recv(1024)
            if not data:
                break
            connection.send(b"Echo =>" + data)
        connection.close()


if __name__ == "__main__":
    main()
