"""The superserver: many services on many addresses, under any mix of models.

:meth:`Superserver.open` binds every address first, so a port already taken is
reported before anything is served, and reports the address each binding actually got
(port 0 becomes a real port). :meth:`Superserver.run` serves until SIGTERM/SIGINT (when
run in the main thread) or :meth:`Superserver.shutdown`, then stops gracefully: no new
connections, in-flight conversations get the grace period, exit.

Bindings of the iterative, thread, fork and select models share one hub loop; async
bindings run on an asyncio loop, in this thread when they are alone, else in a second
thread. Services that take connections over (exec programs) always go to the hub.
"""

from __future__ import annotations

import logging
import signal
import threading

from hosepipe.errors import ConfigError, HosepipeError
from hosepipe.servers.asynchronous import AsyncModel, AsyncRunner
from hosepipe.servers.base import Binding, Bound, Model
from hosepipe.servers.forking import ForkModel
from hosepipe.servers.hub import Hub
from hosepipe.servers.iterative import IterativeModel
from hosepipe.servers.selecting import SelectModel
from hosepipe.servers.signals import SignalGuard
from hosepipe.servers.threaded import ThreadModel
from hosepipe.service import Service
from hosepipe.transports.base import Listener
from hosepipe.transports.listen import open_listener

__all__ = ["MODELS", "Superserver", "separate_state_error", "shares_process_state"]

log = logging.getLogger("hosepipe.server")

MODELS = ("iterative", "thread", "fork", "select", "async")
SEPARATE = ("iterative", "fork")  # models whose connections do not share one process


def shares_process_state(service: Service) -> bool:
    """False for a service whose connections must share this process (a room) but
    cannot under a model that separates them, unless a broker spans processes."""
    return not service.shares_state or service.spans_processes()


def separate_state_error(label: str, what: str) -> str:
    return (f"{label} shares state between connections (a room), which {what} cannot "
            "give it: its connections would not share one process. Serve it under the "
            "thread, select or async model, or give it a broker")


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
            address = binding.where
            if address.is_datagram and not service.datagrams:
                raise ConfigError(f"{binding.label} does not answer datagrams ({address})")
            if address.scheme == "tls" and service.handoff:
                raise ConfigError(f"{binding.label} takes connections over as they come, "
                                  f"TLS and all, so it cannot serve {address}; put "
                                  "`hosepipe relay --listen tls://...` in front")
            if address.scheme == "tls" and binding.tls is None:
                raise ConfigError(f"{address} needs a certificate: --cert FILE [--key FILE]")
            if not address.is_datagram and not service.streams:
                raise ConfigError(f"{binding.label} does not serve streams ({address})")
            if binding.model in SEPARATE and not shares_process_state(service):
                raise ConfigError(separate_state_error(binding.label, f"the {binding.model} "
                                                       "model"))
        self.bindings = bindings
        self.bound: list[Bound] = []  # once open: the live state of each binding
        self._hub: Hub | None = None
        self._runner: AsyncRunner | None = None
        self._stop_early = False
        self._hurry_early = False
        self._guard: SignalGuard | None = None

    def install_signal_handlers(self) -> SignalGuard:
        """Make SIGTERM/SIGINT stop this server gracefully, and a second one stop it at
        once (main thread only). Call it before announcing readiness; the handlers stay
        until :meth:`SignalGuard.restore` (``run`` restores only those it installed)."""
        self._guard = SignalGuard(self.shutdown, self.hurry).install()
        return self._guard

    def open(self) -> list[Bound]:
        """Bind every address; on any failure close those already bound and raise."""
        if self.bound:
            return self.bound
        try:
            for binding in self.bindings:
                self.bound.append(Bound(binding, open_listener(binding.where)))
        except HosepipeError:
            self.close()
            raise
        return self.bound

    @property
    def addresses(self) -> list[str]:
        """The address each binding actually got (port 0 made real), once open."""
        return [bound.local for bound in self.bound]

    def close(self) -> None:
        """Close the listeners and release every service (idempotent)."""
        for bound in self.bound:
            bound.close()
        for service in {id(b.service): b.service for b in self.bindings}.values():
            service.close()

    def __enter__(self) -> Superserver:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _in_child(self) -> None:
        """In a forked child: drop the parent's listeners and loop."""
        for bound in self.bound:
            if isinstance(bound.listener, Listener):
                bound.listener.forget()
        for loop in (self._hub, self._runner):
            if loop is not None:
                loop.close_fds()

    def _models(self, hub: Hub, bound: list[Bound]) -> dict[str, Model]:
        models: dict[str, Model] = {}
        for one in bound:
            if one.model in models:
                continue
            if one.model == "iterative":
                models["iterative"] = IterativeModel(hub)
            elif one.model == "thread":
                pooled = [b.limits for b in bound if b.model == "thread"]
                models["thread"] = ThreadModel(hub, max(limits.threads for limits in pooled),
                                               retire_after=max(x.thread_idle for x in pooled))
            elif one.model == "fork":
                models["fork"] = ForkModel(self._in_child)
            elif one.model == "select":
                models["select"] = SelectModel(hub)
            elif one.model == "async":
                assert self._runner is not None
                models["async"] = AsyncModel(self._runner)
        return models

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT or :meth:`shutdown`; returns after a clean stop."""
        main = threading.current_thread() is threading.main_thread()
        installed = self.install_signal_handlers() if main and self._guard is None else None
        try:
            self._run(main)
        finally:
            if installed is not None:
                installed.restore()
                self._guard = None

    def _run(self, main: bool) -> None:
        bound = self.open()
        # asyncio accepts on its own sockets; the hub on everything else (other
        # listeners and endpoints of async bindings too, handed over to the loop)
        in_loop = [b for b in bound if b.model == "async" and not b.service.handoff
                   and getattr(b.listener, "sock", None) is not None]
        in_hub = [b for b in bound if b not in in_loop]
        if in_loop or any(b.model == "async" for b in in_hub):
            self._runner = AsyncRunner([b for b in bound if b.model == "async"], serve=in_loop)
        if in_hub:
            self._hub = Hub(in_hub, {})
            self._hub.models = self._models(self._hub, in_hub)
        try:
            self._serve(main)
        finally:
            self.close()
            log.info("stopped")

    def _serve(self, main: bool) -> None:
        hub, runner = self._hub, self._runner
        wake = hub.wakeup_fd if hub is not None else runner.wakeup_fd  # type: ignore[union-attr]
        previous_fd = signal.set_wakeup_fd(wake, warn_on_full_buffer=False) if main else None
        try:
            if self._stop_early:
                self.shutdown()
            if self._hurry_early:
                self.hurry()
            if hub is None:
                assert runner is not None
                runner.run()
                return
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
        finally:
            if previous_fd is not None:
                signal.set_wakeup_fd(previous_fd)
            for loop in (hub, runner):
                if loop is not None:
                    loop.close_fds()

    def shutdown(self) -> None:
        """Begin the graceful stop; safe from any thread and from signal handlers."""
        self._stop_early = True
        if self._hub is not None:
            self._hub.request_stop()
        if self._runner is not None:
            self._runner.request_stop()

    def hurry(self) -> None:
        """Stop now: the grace period ends at once (still a clean exit). Safe from any
        thread and from signal handlers."""
        self._stop_early = self._hurry_early = True
        if self._hub is not None:
            self._hub.request_stop(hurry=True)
        if self._runner is not None:
            self._runner.request_stop(hurry=True)
