"""Interop peers: the tutorials' programs as they print them, ported to Python 3 with
no change of behaviour, for hosepipe's tests to run against (one module per program)."""
