"""The library API in-process: Superserver in a thread, Client, AsyncClient, serve()."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hosepipe import (
    AsyncClient,
    Binding,
    Client,
    Limits,
    MessageService,
    RemoteError,
    ServiceError,
    Superserver,
    parse_address,
)


class KeyValue(MessageService):
    """The README's example: a tiny shared dictionary."""

    name = "kv"

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def handle(self, request: Any) -> Any:
        match request:
            case ["set", str(key), value]:
                self.data[key] = value
                return True
            case ["get", str(key)] if key in self.data:
                return self.data[key]
            case ["get", str(key)]:
                raise ServiceError("not-found", f"no key {key!r}")
        raise ServiceError("bad-request", "send ['set', key, value] or ['get', key]")


@pytest.fixture(params=["thread", "select", "async"])
def running(request: pytest.FixtureRequest) -> Iterator[Superserver]:
    binding = Binding(service=KeyValue(), address=parse_address("tcp://127.0.0.1:0"),
                      model=request.param, limits=Limits(grace=1))
    server = Superserver([binding])
    server.open()
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive()


def test_sync_client(running: Superserver) -> None:
    address = running.addresses[0]
    with Client(address) as one, Client(address, codec="json") as two:
        assert one.request(["set", "spam", [1, 2]]) is True
        assert two.request(["get", "spam"]) == [1, 2]
        with pytest.raises(RemoteError) as info:
            two.request(["get", "eggs"])
        assert info.value.code == "not-found"


def test_async_client(running: Superserver) -> None:
    address = running.addresses[0]

    async def main() -> list[Any]:
        clients = [await AsyncClient.connect(address) for _ in range(5)]
        try:
            await clients[0].request(["set", "n", 42])
            return await asyncio.gather(*(c.request(["get", "n"]) for c in clients))
        finally:
            for client in clients:
                await client.close()

    assert asyncio.run(main()) == [42] * 5
