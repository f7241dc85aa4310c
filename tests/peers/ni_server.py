"""The Ni server of the Inter-Process Communications tutorial (seed 002), on a socket.

The tutorial's child answers each ``os.read(..., 1024)`` with ``'Ni!\\n' + data +
'\\nNi!'`` (no newline at the end) over a pipe; here the same loop serves each TCP
client in turn. An empty read is the client closing (the tutorial's pipe loop would
answer it with ``Error: received empty message`` for ever): the connection closes.
"""

from __future__ import annotations

from tests.peers import listen


def main() -> None:
    server = listen()
    while True:
        conn, _ = server.accept()
        while True:
            data = conn.recv(1024).decode("utf8")
            if not data:
                break
            conn.send(("Ni!\n" + data + "\nNi!").encode("utf8"))
        conn.close()


if __name__ == "__main__":
    main()
