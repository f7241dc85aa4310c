"""Rooms that span processes through PostgreSQL LISTEN/NOTIFY: two `hosepipe serve`
processes, `--workers 2`, the fork model, and the broker's connection killed mid-room.

Each test uses a channel of its own, so tests (and other users of the database) never
hear each other. Needs HOSEPIPE_TEST_POSTGRES (skipped only when it is unset)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import ServerProcess, postgres_base_url, run_cli, start_server
from tests.integration.room_peers import Peer, address_of


@pytest.fixture
def broker() -> Iterator[tuple[str, str]]:
    """(the database URL, a channel used by this test only)."""
    yield postgres_base_url(), f"room_test_{uuid.uuid4().hex[:12]}"


def _serve(broker: tuple[str, str], *args: str) -> ServerProcess:
    url, channel = broker
    return start_server("room@tcp://127.0.0.1:0", *args, "-o", f"room.broker={url}",
                        "-o", f"room.channel={channel}", "-o", "room.flood_burst=500",
                        "-o", "room.flood_rate=500")


def _who_until(peer: Peer, wanted: str, seconds: float = 20.0) -> None:
    """Poll /who until the whole room is known (other servers answer a sync in their
    own time), every 20 ms up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peer.send("/who")
        if peer.expect(lambda line: line.startswith("* in "))[-1] == wanted:
            return
        time.sleep(0.02)  # polling pace, not synchronisation: the loop checks the state
    raise AssertionError(f"/who never said {wanted!r}: {peer.seen[-5:]}")


def test_two_servers_with_one_broker_form_one_room(broker: tuple[str, str]) -> None:
    one, two = _serve(broker, "--model", "select"), _serve(broker, "--model", "async")
    alice = Peer(address_of(one), "alice")
    bob = Peer(address_of(two), "bob")
    carol = None
    try:
        alice.expect("* bob joined lobby")
        _who_until(bob, "* in lobby: alice, bob")  # server two has heard of alice
        carol = Peer(address_of(two))
        carol.send("alice")  # known to server two through the broker: taken
        carol.expect("! nickname alice is taken in lobby; your nickname?")
        carol.send("carol")
        alice.expect("* carol joined lobby")
        _who_until(bob, "* in lobby: alice, bob, carol")
        alice.send(*(f"a{n}" for n in range(200)))
        bob.send("/me waves")
        got = [x for x in carol.expect("[alice] a199") if x.startswith("[alice]")]
        assert got == [f"[alice] a{n}" for n in range(200)]  # in order, none twice
        alice.expect("* bob waves")
        bob.send("/nick robert")
        alice.expect("* bob is now robert")
        carol.send("/quit")
        alice.expect("* carol left lobby")
        _who_until(alice, "* in lobby: alice, robert")
    finally:
        for peer in (alice, bob, carol):
            if peer is not None:
                peer.close()
        assert one.stop() == 0
        assert two.stop() == 0


@pytest.mark.parametrize("args", [["--workers", "2"], ["--model", "fork"]])
def test_a_room_spans_workers_and_fork_children(broker: tuple[str, str],
                                               args: list[str]) -> None:
    server = _serve(broker, *args)
    where = address_of(server)
    peers: list[Peer] = []
    try:
        for index in range(4):
            peers.append(Peer(where, f"m{index}"))
            for earlier in peers[:-1]:
                earlier.expect(f"* m{index} joined lobby")
        for index, peer in enumerate(peers):
            peer.send(*(f"{index}:{n}" for n in range(20)))
        for index, peer in enumerate(peers):
            last = {f"[m{other}] {other}:19" for other in range(4) if other != index}
            peer.expect(lambda _, p=peer, last=last: last <= set(p.seen))  # type: ignore[misc]
            for other in range(4):
                mine = [x for x in peer.seen if x.startswith(f"[m{other}] ")]
                expected = [] if other == index else [f"[m{other}] {other}:{n}"
                                                      for n in range(20)]
                assert mine == expected
        peers[3].send("/quit")
        peers[0].expect("* m3 left lobby")
        _who_until(peers[0], "* in lobby: m0, m1, m2")
    finally:
        for peer in peers:
            peer.close()
        assert server.stop() == 0


def _kill_listeners(url: str, channel: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'hosepipe-room-listen' AND query = %s",
            (f'LISTEN "{channel}"',)).fetchall()
    return len(rows)


def test_a_lost_broker_connection_is_told_and_recovered(broker: tuple[str, str]) -> None:
    one, two = _serve(broker, "--model", "thread"), _serve(broker, "--model", "select")
    alice = Peer(address_of(one), "alice")
    bob = Peer(address_of(two), "bob")
    try:
        alice.expect("* bob joined lobby")
        assert _kill_listeners(*broker) == 2
        for peer in (alice, bob):
            peer.expect("* broker lost, reconnecting")
            peer.expect("* broker back")
        deadline = time.monotonic() + 30
        for attempt in range(300):  # until both listen again (each polls its own)
            assert time.monotonic() < deadline, "lines never crossed again"
            alice.send(f"after {attempt}")
            line = bob.expect(lambda x: x.startswith("[alice] after") or x.startswith("* "))
            if line[-1] == f"[alice] after {attempt}":
                break
        bob.send("and back")
        alice.expect("[bob] and back")
        _who_until(alice, "* in lobby: alice, bob")
    finally:
        alice.close()
        bob.close()
        assert one.stop() == 0
        assert two.stop() == 0


def test_a_broker_that_cannot_be_reached_stops_the_server_at_start() -> None:
    result = run_cli("serve", "room@tcp://127.0.0.1:0", "-o",
                     "room.broker=postgresql://nobody@127.0.0.1:1/none", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "room: broker:" in result.stderr
    assert "Traceback" not in result.stderr


def test_with_a_broker_max_line_must_fit_a_notification() -> None:
    result = run_cli("serve", "room@tcp://127.0.0.1:0", "-o", "room.max_line=5000",
                     "-o", "room.broker=postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert "max_line is at most 3800" in result.stderr
