"""The superserver: many services on many addresses, under any mix of models.

:meth:`Superserver.open` binds every address first, so a port already taken is
reported before anything is served, and reports the address each binding actually got
(port 0 becomes a real port). :meth:`Superserver.run` serves until SIGTERM/SIGINT (when
run in the main thread) or :meth:`Superserver.shutdown`, then stops gracefully: no new
connections, in-flight conversations get the grace period, exit.

Bindings of the iterative, thread, fork and select models share one hub loop; async
bindings run on an asyncio loop, in this thread when they are alone, else in a second
thread. exec services always go to the hub (a program needs no conversation driver).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from types import FrameType

from hosepipe.errors import ConfigError, HosepipeError
from hosepipe.servers.asynchronous import AsyncRunner
from hosepipe.servers.base import Binding, Model
from hosepipe.servers.forking import ForkModel
from hosepipe.servers.hub import Hub
from hosepipe.servers.iterative import IterativeModel
from hosepipe.servers.selecting import SelectModel
from hosepipe.servers.threaded import ThreadModel
from hosepipe.services.program import Program
from hosepipe.transports.listen import close_listener, describe_bound, open_listener

__all__ = ["MODELS", "Superserver"]

log = logging.getLogger("hosepipe.server")

MODELS = ("iterative", "thread", "fork", "select", "async")


class Superserver:
    """Serve ``bindings`` until shut down. Use as a context manager, or open/run/close."""

    def __init__(self, bindings: list[Binding]) -> None:
        if not bindings:
            raise ConfigError("nothing to serve: no bindings")
        for binding in bindings:
            if binding.model not in MODELS:
                choices = ", ".join(MODELS)
                raise ConfigError(f"unknown model {binding.model!r}; choose from {choices}")
            service = binding.service
            if binding.address.is_datagram and not service.datagrams:
                raise ConfigError(f"{binding.label} does not answer datagrams ({binding.address})")
            if binding.tls is not None and binding.model == "select":
                raise ConfigError(f"{binding.label} {binding.address}: the select model does "
                                  "not hold TLS; use thread, fork, iterative or async")
            if binding.address.scheme == "tls" and binding.tls is None:
                raise ConfigError(f"{binding.address} needs a certificate: --cert FILE "
                                  "[--key FILE]")
            if not binding.address.is_datagram and not service.streams:
                raise ConfigError(f"{binding.label} does not serve streams ({binding.address})")
        self.bindings = bindings
        self._hub: Hub | None = None
        self._runner: AsyncRunner | None = None
        self._stop_early = False

    def open(self) -> list[Binding]:
        """Bind every address; on any failure close those already bound and raise."""
        try:
            for binding in self.bindings:
                binding.sock = open_listener(binding.address)
                binding.bound = describe_bound(binding.address, binding.sock)
        except HosepipeError:
            self.close()
            raise
        return self.bindings

    def close(self) -> None:
        """Close the listeners and release every service (idempotent)."""
        for binding in self.bindings:
            if binding.sock is not None:
                close_listener(binding.address, binding.sock)
                binding.sock = None
        for service in {id(b.service): b.service for b in self.bindings}.values():
            service.close()

    def __enter__(self) -> Superserver:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _in_child(self) -> None:
        """In a forked child: drop the parent's listeners and loop."""
        for binding in self.bindings:
            if binding.sock is not None:
                binding.sock.close()
        if self._hub is not None:
            self._hub.close_fds()

    def _models(self, hub: Hub, bindings: list[Binding]) -> dict[str, Model]:
        models: dict[str, Model] = {}
        for binding in bindings:
            if binding.model in models:
                continue
            if binding.model == "iterative":
                models["iterative"] = IterativeModel()
            elif binding.model == "thread":
                pooled = [b.limits for b in bindings if b.model == "thread"]
                models["thread"] = ThreadModel(max(limits.threads for limits in pooled),
                                               retire_after=max(x.thread_idle for x in pooled))
            elif binding.model == "fork":
                models["fork"] = ForkModel(self._in_child)
            elif binding.model == "select":
                models["select"] = SelectModel(hub)
        return models

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT or :meth:`shutdown`; returns after a clean stop."""
        if any(b.sock is None for b in self.bindings):
            self.open()
        main = threading.current_thread() is threading.main_thread()
        in_hub = [b for b in self.bindings if b.model != "async" or isinstance(b.service, Program)]
        in_loop = [b for b in self.bindings if b not in in_hub]
        if in_hub:
            self._hub = Hub(in_hub, {})
            self._hub.models = self._models(self._hub, in_hub)
        if in_loop:
            self._runner = AsyncRunner(in_loop, handle_signals=main and not in_hub)
        try:
            self._serve(main)
        finally:
            self.close()
            log.info("stopped")

    def _serve(self, main: bool) -> None:
        hub, runner = self._hub, self._runner
        if hub is None:
            assert runner is not None
            if self._stop_early:
                runner.request_stop()
            runner.run()
            return
        previous = self._install_signals(hub) if main else None
        if self._stop_early:
            hub.request_stop()
        thread = None
        if runner is not None:
            thread = threading.Thread(target=runner.run, name="hosepipe-async", daemon=True)
            thread.start()
        try:
            hub.run()
        finally:
            if runner is not None and thread is not None:
                runner.request_stop()
                thread.join()
            if previous is not None:
                self._restore_signals(previous)

    def _install_signals(self, hub: Hub) -> dict[int, object]:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.shutdown()

        previous: dict[int, object] = {
            signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)
        }
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)
        previous[-1] = signal.set_wakeup_fd(hub.wakeup_fd, warn_on_full_buffer=False)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, object]) -> None:
        for signum, handler in previous.items():
            if signum == -1:
                signal.set_wakeup_fd(handler)  # type: ignore[arg-type]
            else:
                with contextlib.suppress(TypeError):
                    signal.signal(signum, handler)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """Begin the graceful stop; safe from any thread and from signal handlers."""
        self._stop_early = True
        if self._hub is not None:
            self._hub.request_stop()
        if self._runner is not None:
            self._runner.request_stop()
