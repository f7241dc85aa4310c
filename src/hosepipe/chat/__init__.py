"""``hosepipe chat``: two people at two terminals, one line at a time, both ways at once.

The wire is plain text lines (docs/protocols.md, "Interactive chat"), so the tutorial's
chat programs, ``nc`` and ``telnet`` are peers as well as another ``hosepipe chat``.

* :mod:`hosepipe.chat.text` cuts what arrives into lines for the screen (a bare message
  with no newline is a line after a short pause), makes them safe to print, and encodes
  what is typed with the chosen end of line;
* :mod:`hosepipe.chat.session` runs one conversation over one stream: a pump thread owns
  the stream (receives, shows, sends) while the calling thread reads what is typed;
* :mod:`hosepipe.chat.keyboard` reads typed lines (prompt_toolkit on a terminal, plain
  lines otherwise) and prints received ones without tearing the prompt;
* :mod:`hosepipe.chat.listen` is the person at the server: one peer at a time, others
  queued or refused;
* :mod:`hosepipe.chat.command` is the command line.
"""
