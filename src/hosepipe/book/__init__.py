"""The address book: entries, stores (SQLite, PostgreSQL), the flat file, the client."""

from hosepipe.book.entry import BadEntry, Entry
from hosepipe.book.store import Conflict, NotFound, Store, StoreUnavailable, open_store

__all__ = ["BadEntry", "Conflict", "Entry", "NotFound", "Store", "StoreUnavailable", "open_store"]
