"""Tools built on hosepipe's transports: ``relay``, ``probe`` and ``bench``.

* :func:`hosepipe.tools.relay.relay` / :func:`~hosepipe.tools.relay.relay_streams` join
  two addresses (or two connected streams) both ways, socat-style (``hosepipe relay``).
* :func:`hosepipe.tools.probe.probe` connects to many ports at once and decodes what
  answers (``hosepipe probe``).
* :func:`hosepipe.tools.bench.bench` runs many clients in parallel against a service
  and reports latency percentiles from an HDR histogram (``hosepipe bench``).

Each tool is a library function first; :mod:`hosepipe.tools.command` adds the three
subcommands to the CLI.
"""
