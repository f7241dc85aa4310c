"""The I/O edge: one module per transport (:mod:`hosepipe.transports.registry`), each
owning its address syntax, its client side and its server side; streams, listeners and
endpoints (:mod:`hosepipe.transports.base`) are what they give the rest of hosepipe.

Everything that touches an OS descriptor lives here; OS errors leave this package
translated into :mod:`hosepipe.errors` (``raise ... from exc``). Nothing is imported
until used.
"""
