"""A tutorial-style client nobody here wrote: bare messages, one per send(), no newlines.

Usage: python bare_square_client.py PORT N [N ...]; prints each reply on its own line.
Uses only the standard library's socket module, as the classic textbook client does.
"""

import socket
import sys

port = int(sys.argv[1])
with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
    sock.send(b"Hi there!")
    print(sock.recv(1024).decode())
    for number in sys.argv[2:]:
        sock.send(number.encode())
        print(sock.recv(1024).decode())
