"""Driving one connection: the part of a server that every model shares.

:class:`~hosepipe.driving.driver.Driver` is one connection's state machine, sans-I/O:
the conversation, its output queue, its deadlines, end of stream, pushes from other
threads and the byte counts. A server model (``hosepipe.servers``) only decides when
the driver runs and on which thread or process, and moves the bytes:
:mod:`hosepipe.driving.blocking` runs a driver over a blocking stream on one thread
(thread workers, fork children, ``pipe:`` children, and streams that may not be made
non-blocking such as ``stdio:``); the loop models run it non-blocking
(:mod:`hosepipe.servers.inloop`, :mod:`hosepipe.servers.asynchronous`).
"""
