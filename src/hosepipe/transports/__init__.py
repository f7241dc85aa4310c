"""The I/O edge: opening listeners and connections, and moving bytes with deadlines.

Everything that touches an OS descriptor lives here; OS errors leave this package
translated into :mod:`hosepipe.errors` (``raise ... from exc``).
"""

from hosepipe.transports.connect import connect_datagram, connect_stream
from hosepipe.transports.listen import describe_bound, open_listener
from hosepipe.transports.streams import FdStream, SocketStream, Stream

__all__ = [
    "FdStream",
    "SocketStream",
    "Stream",
    "connect_datagram",
    "connect_stream",
    "describe_bound",
    "open_listener",
]
