"""The time server of "Server - Client IPC implementation in Python" (seed 001).

On each connection: ``time.ctime(time.time())`` and a newline, then close.
"""

from __future__ import annotations

import time

from tests.peers import listen


def main() -> None:
    serversocket = listen()
    while True:
        clientsocket, addr = serversocket.accept()
        print("Got a connection from %s" % str(addr), flush=True)  # noqa: UP031
        current_time = time.ctime(time.time()) + "\n"
        clientsocket.send(current_time.encode("ascii"))
        clientsocket.close()


if __name__ == "__main__":
    main()
