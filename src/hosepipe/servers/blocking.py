"""Driving one conversation over a blocking stream, for the models that give it a thread.

The loop: read what arrives, hand it to the conversation, carry out the actions it
returns, until someone closes. The receive deadline is the pause interval while the
conversation waits for a quiet peer, else the idle timeout; every send is bounded by
the send timeout, so a peer that stops reading cannot hold a worker for ever.
Used by the iterative, thread and fork models and by ``pipe:`` children.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from hosepipe.errors import ConnectError, HosepipeError, Timeout
from hosepipe.limits import Limits
from hosepipe.servers.base import Binding, Tally, limit_log
from hosepipe.service import (
    Action,
    Close,
    Context,
    Conversation,
    Send,
    SendFile,
    Service,
    release,
)
from hosepipe.transports.streams import SocketStream, Stream
from hosepipe.transports.tls import secure_accepted

__all__ = ["run_conversation", "serve_connection", "serve_stream"]

log = logging.getLogger("hosepipe.server")


class _Counter:
    received = 0
    sent = 0


def _carry_out(stream: Stream, actions: list[Action], limits: Limits, count: _Counter) -> bool:
    """Do the actions; True once the conversation asked to close."""
    for index, action in enumerate(actions):
        try:
            if type(action) is Send:  # the usual action first, with the fewest checks
                stream.send_all(action.data, limits.send_timeout)
                count.sent += len(action.data)
            elif isinstance(action, SendFile):
                try:
                    count.sent += stream.send_file(action.fd, action.offset, action.size(),
                                                   limits.send_timeout)
                finally:
                    action.close()
            elif isinstance(action, Close):
                release(actions[index + 1 :])
                return True
        except BaseException:
            release(actions[index + 1 :])
            raise
    return False


def run_conversation(
    stream: Stream, conversation: Conversation, limits: Limits, *, peer_deadlines: bool = True
) -> tuple[str, int, int]:
    """Run until the conversation or the peer ends it; returns (reason, in, out).

    ``peer_deadlines=False`` is for a peer that lives exactly as long as we do (the
    parent of a ``pipe:`` child): no idle or message deadline, so a menu may sit unused
    for an hour, and no wait before each receive. The pause rule and the send timeout
    still apply.
    """
    count = _Counter()
    reason = "closed"
    started: float | None = None  # when the message being received began
    try:
        done = _carry_out(stream, conversation.opened(), limits, count)
        while not done:
            waiting = conversation.wants_pause
            idle = (conversation.idle_limit or limits.idle_timeout) if peer_deadlines else None
            wait = limits.pause if waiting else idle
            if started is not None and wait is not None:
                wait = min(wait, max(0.001, started + limits.message_timeout - time.monotonic()))
            try:
                data = stream.receive_some(wait)
            except Timeout:
                if started is not None and time.monotonic() >= started + limits.message_timeout:
                    reason = f"dropped: message incomplete after {limits.message_timeout:g} s"
                    break
                if not waiting:
                    reason = f"idle for {idle or 0:g} s"
                    break
                done = _carry_out(stream, conversation.paused(), limits, count)
                continue
            if not data:
                _carry_out(stream, conversation.eof_received(), limits, count)
                break
            count.received += len(data)
            actions = conversation.data_received(data)
            if len(actions) == 1 and type(actions[0]) is Send:  # one reply: the usual case
                reply = actions[0].data
                stream.send_all(reply, limits.send_timeout)
                count.sent += len(reply)
            else:
                done = _carry_out(stream, actions, limits, count)
            if not peer_deadlines or not conversation.partial:
                started = None
            elif started is None:
                started = time.monotonic()
        stream.send_eof()
    except HosepipeError as exc:
        reason = f"dropped: {exc}"
    finally:
        conversation.closed()
    return reason, count.received, count.sent


def serve_stream(stream: Stream, service: Service, limits: Limits, *, peer: str, local: str,
                 peer_deadlines: bool = True) -> str:
    """Serve one whole conversation of ``service`` over ``stream``, then close it.

    This is how a ``pipe:`` child (``peer_deadlines=False``: its parent) and ``hosepipe
    serve SERVICE@stdio:`` (a program run by inetd, or by an ``exec:`` address) serve
    their single peer.
    """
    conversation = service.conversation(Context(peer=peer, local=local, limits=limits))
    try:
        reason, received, sent = run_conversation(stream, conversation, limits,
                                                  peer_deadlines=peer_deadlines)
    finally:
        stream.close()
    log.info("%s %s: %s %s (%d B in, %d B out)", service.name, local, peer, reason, received, sent)
    return reason


def serve_connection(binding: Binding, sock: socket.socket, peer: str,
                     track: Callable[[Stream | None], None] = lambda stream: None) -> None:
    """One accepted connection, start to end, on this thread: TLS handshake (for tls://),
    the conversation, closing, accounting and the log line. ``track`` is told the stream
    while it runs (and ``None`` after), so a model can cut it at shutdown."""
    tally = Tally(binding, peer)
    try:
        if binding.tls is not None:
            sock = secure_accepted(sock, binding.tls, binding.limits.handshake_timeout)
    except ConnectError as exc:
        limit_log.warning(f"tls:{binding.bound}", "%s %s: %s: %s", binding.label,
                          binding.bound, peer, exc)
        binding.leave(peer)
        tally.done(f"refused: {exc}")
        return
    stream = SocketStream(sock, peer)
    track(stream)
    try:
        reason, tally.received, tally.sent = run_conversation(
            stream, binding.conversation(peer), binding.limits
        )
    finally:
        track(None)
        stream.close()
        binding.leave(peer)
    tally.done(reason)
