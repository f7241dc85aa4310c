"""The chat server of the Python sockets tutorial (seed 003), with its upper-casing.

One client; each ``recv(1024)`` is shown (``from connected user: ``), then upper-cased
(``Received from User: ``), then the person at the server types the answer at
``input("type message: ")`` and it is sent as typed, without a newline. The client
closing ends it. Only the port differs: any free one, printed first (tests.peers).
"""

from __future__ import annotations

from tests.peers import listen


def main() -> None:
    server = listen()
    conn, addr = server.accept()
    print("Connection from: " + str(addr))
    while True:
        data = conn.recv(1024).decode()
        if not data:
            break
        print("from connected user: " + str(data))
        data = str(data).upper()
        print("Received from User: " + str(data))
        data = input("type message: ")
        conn.send(data.encode())
    conn.close()


if __name__ == "__main__":
    main()
