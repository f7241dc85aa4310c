"""The address book of the IPC tutorial (seeds/002): ``address_srv`` and its program.

``python -m tests.peers.addressbook`` is the tutorial's client/server program: it forks
a server child joined by two pipes, shows the menu, reads the five fields, sends
``add:NAME,NUM,STREET,TOWN,PHONE`` (or ``rem:``/``fnd:``) and prints ``RESULT:`` and the
reply. The server child keeps the book in a dict and writes ``addbook.dat`` in the
working directory after every change (``saveBook``). Ported to Python 3 with no change
of behaviour: bytes are encoded and decoded as UTF-8 at the pipes and in the file, and
each process closes the pipe ends it does not use, so the child ends with its parent
(the tutorial leaves it waiting for ever).

``python -m tests.peers.addressbook serve`` is the same server on a TCP socket
(127.0.0.1, an ephemeral port, printed on stdout), one forked child per connection: a
plain add/rem/fnd book server, replying without a newline, that chokes (the child
dies) on anything that is not ``CMD:DATA``, as the tutorial's does.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

# -- address_srv, as the tutorial lists it ---------------------------------------------

def readBook(filename="addbook.dat"):
    book = {}
    if os.path.exists(filename):
        store = open(filename, encoding="utf-8")  # noqa: SIM115
        for line in store:
            name, entry = line.strip().split(":")
            book[name] = entry
    else:
        store = open(filename, "w", encoding="utf-8")  # noqa: SIM115 - create new empty file
    store.close()
    return book


def saveBook(book, filename="addbook.dat"):
    store = open(filename, "w", encoding="utf-8")  # noqa: SIM115
    for name, entry in book.items():
        line = "%s:%s" % (name, entry)  # noqa: UP031
        store.write(line + "\n")
    store.close()


def addEntry(book, name, data):
    book[name] = data
    return "Added entry for " + name


def removeEntry(book, name):
    del book[name]
    return "Deleted entry for " + name


def findEntry(book, name):
    if name in book:  # noqa: SIM108 - as the tutorial writes it
        result = "%s : %s" % (name, book[name])  # noqa: UP031
    else:
        result = "Sorry, no entry for: " + name
    return result


# -- the server loop, as the tutorial's child runs it ---------------------------------

def serve_command(addresses, s, save=True):
    """One command in, the reply out (raises, as the tutorial does, on a bad one)."""
    cmd, data = s.split(":")
    if cmd == "add":
        details = data.split(",")
        name = details[0]
        entry = ",".join(details[1:])
        s = addEntry(addresses, name, entry)
        if save:
            saveBook(addresses)
    elif cmd == "rem":
        s = removeEntry(addresses, data)
        if save:
            saveBook(addresses)
    elif cmd == "fnd":
        s = findEntry(addresses, data)
    else:
        s = "ERROR: Unrecognized command: " + cmd
    return s


def command_for(choice, ask=input):
    """The client's side: the command for a menu choice, asking as the tutorial asks."""
    if choice == 1:
        name = ask("Enter the name: ")
        num = ask("Enter the House number: ")
        street = ask("Enter the Street name: ")
        town = ask("Enter the Town: ")
        phone = ask("Enter the Phone number: ")
        data = "%s,%s,%s,%s,%s" % (name, num, street, town, phone)  # noqa: UP031
        return "add:%s" % data  # noqa: UP031
    if choice in (2, 3):
        name = ask("Enter the name: ")
        return ("rem:%s" if choice == 2 else "fnd:%s") % name
    return None


MENU = """
   1) Add Entry
   2) Delete Entry
   3) Find Entry

   4) Quit
   """


def main():
    fromClient, toServer = os.pipe()
    fromServer, toClient = os.pipe()
    pid = os.fork()
    if pid == 0:  # we are the server
        os.close(toServer)
        os.close(fromServer)
        addresses = readBook()
        while True:
            s = os.read(fromClient, 1024).decode("utf-8")
            os.write(toClient, serve_command(addresses, s).encode("utf-8"))
    else:  # We are the client
        os.close(fromClient)
        os.close(toClient)
        while True:
            print(MENU)
            try:
                choice = int(input("Choose an option[1-4] "))
            except EOFError:  # the tutorial's bare except would loop for ever here
                break
            except Exception:
                continue
            if choice == 4:
                break
            cmd = command_for(choice)
            if cmd is None:
                print("Invalid choice, must be between 1 and 4.")
                continue
            os.write(toServer, cmd.encode("utf-8"))
            print("\nRESULT: ", os.read(fromServer, 1024).decode("utf-8"))
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)


# -- the same server on a socket, a child per connection ------------------------------

def serve_socket():
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            addresses = readBook()
            while True:
                s = conn.recv(1024).decode("utf-8")
                conn.sendall(serve_command(addresses, s).encode("utf-8"))
        conn.close()


if __name__ == "__main__":
    serve_socket() if sys.argv[1:] == ["serve"] else main()
