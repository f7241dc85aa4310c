"""The squares server of "Communication Between Processes in Python" (seed 000).

The client greets, the server answers ``Hello. Nice to see you.`` (no newline), then
every ``recv(1024)`` is taken as one integer and answered with its square, bare. Not a
number: ``int()`` raises and the server dies, as the tutorial's does. The tutorial
serves one connection and, when the client closes, spins on ``recv`` returning
``b""``; this one closes that connection and accepts the next instead.
"""

from __future__ import annotations

from tests.peers import listen


def main() -> None:
    s = listen()
    while True:
        conn, addr = s.accept()
        print("Connected to ", addr, flush=True)
        data = conn.recv(1024)
        print("Server heard '", data, "'", flush=True)
        conn.send(b"Hello. Nice to see you.")
        while True:
            data = conn.recv(1024)  # Read the incoming data
            if data:
                i = int(data)  # Convert it to integer
                print("Received ", i, flush=True)
                data = str(i * i).encode()  # Square it and convert to bytes
                conn.send(data)  # Send to the client
            else:
                break
        conn.close()


if __name__ == "__main__":
    main()
