"""The chat server of the Python sockets tutorial (seed 003).

One client; each ``recv(1024)`` is printed, then the person at the server types the
answer (``input("type message: ")`` -- here read from the peer's standard input) and
it is sent as typed, without a newline. The client closing ends it.
"""

from __future__ import annotations

from tests.peers import listen


def main() -> None:
    server = listen()
    conn, addr = server.accept()
    print("Connection from: " + str(addr), flush=True)
    while True:
        data = conn.recv(1024).decode()
        if not data:
            break
        print("from connected user: " + str(data), flush=True)
        data = input("type message: ")
        conn.send(data.encode())
    conn.close()


if __name__ == "__main__":
    main()
