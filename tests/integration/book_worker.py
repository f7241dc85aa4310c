"""A book client process for the concurrency tests.

    python book_worker.py ADDRESS adds PREFIX COUNT     add PREFIX-0 .. PREFIX-(COUNT-1)
    python book_worker.py ADDRESS increment NAME COUNT  COUNT read-modify-write increments
                                                        of NAME's house number, retried
                                                        on conflict
"""

import sys

from hosepipe import RemoteError
from hosepipe.book import Entry
from hosepipe.book.client import BookClient

address, mode, key, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conflicts = 0
with BookClient(address) as book:
    for i in range(count):
        if mode == "adds":
            book.add(Entry(f"{key}-{i}", str(i), "Worker Road", "Concurrency", "555"))
            continue
        while True:
            current = book.find(key)
            bumped = Entry(key, str(int(current.house) + 1), current.street, current.town,
                           current.phone)
            try:
                book.update(bumped, expect=current)
                break
            except RemoteError as exc:
                if exc.code != "conflict":
                    raise
                conflicts += 1
print(f"conflicts={conflicts}")
