"""The authkey challenge of :mod:`multiprocessing.connection`, as a state machine.

Both sides prove they know the key, in turn. The side that accepted the connection
(``Role.SERVER``) challenges first; then the client challenges it back::

    server -> client   #CHALLENGE#{sha256}<40 random bytes>
    client -> server   {sha256}<HMAC-SHA256(key, everything after #CHALLENGE#)>
    server -> client   #WELCOME#   (or #FAILURE#, and the connection ends)
    client -> server   #CHALLENGE#{sha256}<40 random bytes>
    server -> client   {sha256}<HMAC ...>
    client -> server   #WELCOME#   (or #FAILURE#)

Every message is one frame of at most ``MAX_MESSAGE`` (256) bytes; the caller feeds
frame payloads to :meth:`Handshake.receive` and sends the payloads it returns.
MACs are compared with :func:`hmac.compare_digest`. Python 3.10 and 3.11 answer
with a bare 16-byte HMAC-MD5 and send 20-byte unprefixed challenges; that legacy form
is accepted only when ``allow_md5`` is true (the default, so that the standard library
of those versions can connect). Python 3.12's own implementation does the same.
"""

from __future__ import annotations

import hmac
from enum import Enum

from hosepipe.errors import ProtocolError

__all__ = ["CHALLENGE", "FAILURE", "MAX_MESSAGE", "WELCOME", "AuthFailed", "Handshake", "Role"]

CHALLENGE = b"#CHALLENGE#"
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"
MAX_MESSAGE = 256
NONCE_LENGTH = 40
LEGACY_CHALLENGE = 20  # the challenge length of Python <= 3.11
LEGACY_RESPONSE = 16  # an HMAC-MD5
DIGESTS = (b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384")


class AuthFailed(ProtocolError):
    """The peer does not know the key, or broke the handshake. ``reply`` is what to send
    the peer before closing (``#FAILURE#`` when it is this side that refuses), if any."""

    def __init__(self, message: str, reply: bytes | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class Role(Enum):
    SERVER = "server"
    CLIENT = "client"


def _split(message: bytes) -> tuple[str, bytes]:
    """(digest name, payload) of a challenge body or response; "" for the legacy form."""
    if len(message) in (LEGACY_CHALLENGE, LEGACY_RESPONSE):
        return "", message
    if message.startswith(b"{"):
        end = message.find(b"}", 1, 12)
        if end > 0 and message[1:end] in DIGESTS:
            return message[1:end].decode("ascii"), message[end + 1 :]
    raise AuthFailed("unsupported message: no known {digest} prefix and not a legacy length")


class Handshake:
    """One side of the mutual challenge. ``nonce`` is this side's random challenge."""

    def __init__(self, authkey: bytes, role: Role, nonce: bytes, *, digest: str = "sha256",
                 allow_md5: bool = True, max_message: int = MAX_MESSAGE) -> None:
        if not authkey:
            raise ValueError("the authkey must not be empty")
        if len(nonce) < LEGACY_CHALLENGE + 1:
            raise ValueError("the nonce must be longer than 20 bytes")
        self.authkey = authkey
        self.role = role
        self.max_message = max_message
        self.allow_md5 = allow_md5
        self.legacy_peer = False
        self._challenge = b"{%s}%s" % (digest.encode("ascii"), nonce)
        # the steps still to go, each a method taking the next message from the peer
        if role is Role.SERVER:
            self._steps = [self._check_response, self._answer, self._check_welcome]
        else:
            self._steps = [self._answer, self._check_welcome, self._check_response]

    @property
    def done(self) -> bool:
        return not self._steps

    def start(self) -> list[bytes]:
        """What this side sends before hearing anything: the server's challenge."""
        return [CHALLENGE + self._challenge] if self.role is Role.SERVER else []

    def receive(self, message: bytes) -> list[bytes]:
        """Take the peer's next message; return the messages to send in reply.

        Raises :class:`AuthFailed`, whose ``reply`` (if any) should be sent before closing.
        """
        if self.done:
            raise AuthFailed("the handshake is already over")
        if len(message) > self.max_message:
            raise AuthFailed(f"handshake message of {len(message)} bytes "
                             f"(limit {self.max_message})")
        return self._steps.pop(0)(message)

    # -- the steps ----------------------------------------------------------------------
    def _mac(self, digest: str, message: bytes) -> bytes:
        return hmac.new(self.authkey, message, digest or "md5").digest()

    def _check_response(self, response: bytes) -> list[bytes]:
        """The peer answered our challenge: welcome it or refuse it."""
        try:
            digest, mac = _split(response)
        except AuthFailed as exc:
            raise self._refuse(str(exc)) from None
        if not digest and not self.allow_md5:
            raise self._refuse("legacy HMAC-MD5 response refused (allow_md5 is off)")
        expected = self._mac(digest, self._challenge)
        if len(mac) != len(expected) or not hmac.compare_digest(mac, expected):
            raise self._refuse("digest received was wrong")
        self.legacy_peer = not digest
        return [WELCOME]

    def _answer(self, message: bytes) -> list[bytes]:
        """The peer challenged us: answer it (and, as the client, challenge back later)."""
        if not message.startswith(CHALLENGE):
            raise AuthFailed("expected a challenge")
        body = message[len(CHALLENGE) :]
        if len(body) < LEGACY_CHALLENGE:
            raise AuthFailed("challenge too short")
        digest, _ = _split(body)
        if not digest and not self.allow_md5:
            raise AuthFailed("legacy HMAC-MD5 challenge refused (allow_md5 is off)")
        mac = self._mac(digest, body)
        return [b"{%s}%s" % (digest.encode("ascii"), mac) if digest else mac]

    def _check_welcome(self, message: bytes) -> list[bytes]:
        if message != WELCOME:
            raise AuthFailed("the peer refused our key")
        return [] if self.role is Role.SERVER else [CHALLENGE + self._challenge]

    def _refuse(self, reason: str) -> AuthFailed:
        return AuthFailed(reason, reply=FAILURE)
