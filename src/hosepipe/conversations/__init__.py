"""Building blocks for services: the conversations most protocols are made of.

* :mod:`~hosepipe.conversations.classic` -- :class:`ClassicConversation`: classic text,
  one answer per message, for line clients and bare tutorial-style clients alike;
* :mod:`~hosepipe.conversations.messages` -- :class:`MessageService`: framed
  request/reply with a codec agreed at open, structured errors, raw bytes after a
  reply (:class:`Streamed`) and uploads (:class:`Upload`);
* :mod:`~hosepipe.conversations.switch` -- :class:`FirstByteSwitch`: one port for both,
  told apart by the first byte.

The built-in services (:mod:`hosepipe.services`, the book, the file service) are made
of these; so can yours be.
"""
