"""Driving one connection: the part of a server that every model shares.

:class:`~hosepipe.driving.driver.Driver` is one connection's state machine, sans-I/O:
the conversation, its output queue, its deadlines, end of stream, pushes from other
threads and the byte counts. A server model (``hosepipe.servers``) only decides when
the driver runs and on which thread or process, and moves the bytes:
:mod:`hosepipe.driving.blocking` runs a driver over a blocking stream on one thread
(iterative, thread and fork models, ``pipe:`` children, ``stdio:``).
"""
