"""The chapter's getfile server, in Python 3: a path and a newline in, the file's bytes
out, then close; a thread per client. Nothing hosepipe: the classic peer the GUI's form
must fall back to. Prints its port, then serves until killed."""

import socket
import sys
import threading


def serve_one(client: socket.socket) -> None:
    with client, client.makefile("rb") as stream:
        name = stream.readline()[:-1].decode()
        try:
            with open(name, "rb") as file:
                while data := file.read(1024):
                    client.sendall(data)
        except OSError as exc:
            print("Error downloading file on server:", name, exc, file=sys.stderr)


def main() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=serve_one, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
