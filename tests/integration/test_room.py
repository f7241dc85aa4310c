"""The room service in one process, through real sockets and real `hosepipe serve`
processes: members as `nc` would be, 200 members at once, a member that never reads,
a flooder, programs using RoomClient, and the models that must refuse it."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from hosepipe import AsyncRoomClient, RemoteError, RoomClient
from tests.conftest import run_cli, start_server
from tests.integration.room_peers import Peer, address_of, read_all

MODELS = ["thread", "select", "async"]


@pytest.mark.parametrize("model", MODELS)
def test_three_members_see_lines_notices_and_who(model: str) -> None:
    server = start_server("room@tcp://127.0.0.1:0", "--model", model)
    where = address_of(server)
    alice = Peer(where, "alice")
    bob = Peer(where, "bob")
    try:
        alice.expect("* bob joined lobby")
        carol = Peer(where)
        carol.send("alice")  # taken: asked again
        carol.expect("! nickname alice is taken in lobby; your nickname?")
        carol.sock.sendall(b"carol\r\n")  # telnet ends lines in CRLF
        carol.expect("* in lobby: alice, bob, carol")
        for peer in (alice, bob):
            peer.expect("* carol joined lobby")
        alice.send("hello, room")
        for peer in (bob, carol):
            peer.expect("[alice] hello, room")
        bob.send("/me waves", "/who")
        bob.expect("* in lobby: alice, bob, carol")
        carol.expect("* bob waves")
        carol.send("/nick caz", "/nick bob")
        for peer in (alice, bob, carol):
            peer.expect("* carol is now caz")
        carol.expect("! nickname bob is taken in lobby")
        carol.send("/quit")
        assert carol.read_to_end().endswith(b"* bye\n")
        for peer in (alice, bob):
            peer.expect("* caz left lobby")
        bob.sock.close()  # closed without /quit: the room is told too
        alice.expect("* bob left lobby")
        alice.send("/who")
        assert alice.expect(lambda line: line.startswith("* in"))[-1] == "* in lobby: alice"
        assert not any(line.startswith("[alice]") for line in alice.seen)  # no echo
    finally:
        for peer in (alice, bob):
            peer.close()
        assert server.stop() == 0


def test_rooms_are_separate_and_bad_lines_cost_only_an_error() -> None:
    server = start_server("room@tcp://127.0.0.1:0", "-o", "room.max_line=100")
    where = address_of(server)
    alice, bob = Peer(where, "alice"), Peer(where, "bob")
    try:
        bob.send("/join kitchen")
        bob.expect("* in kitchen: bob")
        alice.expect("* bob left lobby")
        alice.send("only the lobby hears this", "/who")
        alice.expect("* in lobby: alice")  # her line was handled before bob comes back
        bob.send("/join lobby", "/help", "/dance")
        bob.expect(lambda line: line.startswith("* commands: /nick NAME"))
        bob.expect("! unknown command /dance; /help lists them")
        bob.send(b"x" * 101, b"\xff\xfe", "esc \x1b[2J", "/join two words", "/nick a b")
        bob.expect("! line too long (at most 100 bytes); not sent")
        bob.expect("! line is not UTF-8; not sent")
        bob.expect("! a line has no control characters; not sent")
        bob.expect("! a room name has no spaces or control characters")
        bob.expect("! a nickname has no spaces or control characters")
        bob.send("x" * 100)  # exactly the limit: said
        alice.expect("[bob] " + "x" * 100)
        assert not any("only the lobby" in line for line in bob.seen)
    finally:
        alice.close()
        bob.close()
        assert server.stop() == 0


def test_a_join_before_the_nickname_chooses_the_room_the_nickname_is_checked_in() -> None:
    server = start_server("room@tcp://127.0.0.1:0")
    where = address_of(server)
    alice = Peer(where, "alice")  # in the lobby
    bob, carol, quitter = Peer(where), Peer(where), Peer(where)
    try:
        bob.send("/who", "/join no good", "/join den", "alice")  # free in den
        bob.expect("! /who comes after the nickname; your nickname?")
        bob.expect("! a room name has no spaces or control characters; your nickname?")
        bob.expect("* you will join den; your nickname?")
        bob.expect("* in den: alice")
        carol.send("/join den", "alice")  # taken in den: asked again, den kept
        carol.expect("! nickname alice is taken in den; your nickname?")
        carol.send("carol")
        carol.expect("* in den: alice, carol")
        bob.expect("* carol joined den")
        alice.send("/who")
        alice.expect("* in lobby: alice")
        quitter.send("/help", "/quit")  # both work before a nickname
        quitter.expect(lambda line: line.startswith("* commands: /nick NAME"))
        assert quitter.read_to_end().endswith(b"* bye\n")
    finally:
        for peer in (alice, bob, carol, quitter):
            peer.close()
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["select", "async"])
def test_200_members_20_lines_each_nothing_lost_duplicated_or_reordered(model: str) -> None:
    members, lines = 200, 20
    server = start_server("room@tcp://127.0.0.1:0", "--model", model,
                          "--max-per-client", "300", "-o", f"room.flood_burst={lines}")
    where = address_of(server)
    peers: list[Peer] = []
    try:
        for index in range(members):
            peers.append(Peer(where, f"m{index}", timeout=60))
        for index, peer in enumerate(peers):
            peer.send(*(f"{index}:{n}" for n in range(lines)))
        read_all(peers, (members - 1) * lines, seconds=240)
        for index, peer in enumerate(peers):
            said = [line for line in peer.buffer.decode().split("\n") if line.startswith("[")]
            assert len(said) == (members - 1) * lines
            by_sender: dict[int, list[int]] = {}
            for line in said:
                nick, text = line.split(" ", 1)
                sender, number = map(int, text.split(":"))
                assert nick == f"[m{sender}]"
                by_sender.setdefault(sender, []).append(number)
            assert index not in by_sender  # a member's own lines are not echoed
            assert all(numbers == list(range(lines)) for numbers in by_sender.values())
            assert len(by_sender) == members - 1
    finally:
        for peer in peers:
            peer.close()
        assert server.stop() == 0


@pytest.mark.parametrize("model", MODELS)
def test_a_member_that_never_reads_is_dropped_and_the_others_go_on(model: str) -> None:
    server = start_server("room@tcp://127.0.0.1:0", "--model", model,
                          "-o", "room.member_queue=128KiB", "-o", "room.flood_rate=100000",
                          "-o", "room.flood_burst=100000")
    where = address_of(server)
    sleeper = socket.socket()
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.connect(where)
    sleeper.sendall(b"sleepy\n")  # and never reads again
    talker, listener = Peer(where, "talker"), Peer(where, "listener")
    try:
        line = "z" * 1000
        sent = 0
        while not any(x == "* sleepy dropped (not reading)" for x in listener.seen):
            assert sent < 40_000, "the sleeper was never dropped"
            talker.send(*([line] * 9), f"mark {sent}")  # 10 KB: far under the bound
            listener.expect(f"[talker] mark {sent}")  # the listener keeps up
            sent += 10
        talker.expect("* sleepy dropped (not reading)")
        talker.send("still here")
        listener.expect("[talker] still here")
        listener.send("/who")
        listener.expect("* in lobby: listener, talker")
    finally:
        sleeper.close()
        talker.close()
        listener.close()
        assert server.stop() == 0


@pytest.mark.parametrize("model", MODELS)
def test_a_flooder_is_limited_and_told_once(model: str) -> None:
    server = start_server("room@tcp://127.0.0.1:0", "--model", model,
                          "-o", "room.flood_rate=1", "-o", "room.flood_burst=5")
    where = address_of(server)
    flooder, victim = Peer(where, "flooder"), Peer(where, "victim")
    try:
        flooder.send(*(f"spam {n}" for n in range(200)))
        flooder.expect(lambda line: line.startswith("! flooding: at most 1 lines a second"))
        victim.expect("[flooder] spam 4")  # the burst went through
        victim.send("/me is still here")  # the victim is served, the flooder still reads
        flooder.expect("* victim is still here")
        victim.send("/who")
        victim.expect("* in lobby: flooder, victim")
        got = [line for line in victim.seen if line.startswith("[flooder]")]
        assert got[:5] == [f"[flooder] spam {n}" for n in range(5)]
        assert len(got) < 20  # the burst, and at most a line a second since
        notices = sum(line.startswith("! flooding") for line in flooder.seen)
        assert 1 <= notices <= len(got) - 4  # once per run of refused lines
    finally:
        flooder.close()
        victim.close()
        assert server.stop() == 0


def test_a_persistent_flooder_is_dropped_with_flood_kick() -> None:
    server = start_server("room@tcp://127.0.0.1:0", "-o", "room.flood_rate=1",
                          "-o", "room.flood_burst=2", "-o", "room.flood_kick=10")
    where = address_of(server)
    flooder, victim = Peer(where, "flooder"), Peer(where, "victim")
    try:
        flooder.send(*(f"spam {n}" for n in range(50)))
        victim.expect("* flooder dropped (flooding)")
        assert flooder.read_to_end().endswith(b"! dropped: flooding\n")
    finally:
        flooder.close()
        victim.close()
        assert server.stop() == 0


def test_commands_before_a_nickname_pass_the_flood_gate_too() -> None:
    server = start_server("room@tcp://127.0.0.1:0", "-o", "room.flood_rate=1",
                          "-o", "room.flood_burst=2", "-o", "room.flood_kick=10")
    nameless = Peer(address_of(server))
    try:
        nameless.send(*(["/help"] * 50))
        told = nameless.read_to_end().decode()
        assert told.endswith("! dropped: flooding\n")
        helped = [line for line in told.splitlines() if line.startswith("* commands:")]
        assert 2 <= len(helped) < 50  # the burst, and what the rate let through meanwhile
    finally:
        nameless.close()
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "select"])
def test_a_silent_member_is_closed_after_member_idle_not_idle_timeout(model: str) -> None:
    server = start_server("room@tcp://127.0.0.1:0", "--model", model, "--idle-timeout", "1",
                          "-o", "room.member_idle=3")
    where = address_of(server)
    lurker, talker = Peer(where, "lurker"), Peer(where, "talker")
    try:
        started = time.monotonic()
        talker.send("/me talks")  # only the talker speaks; the lurker only listens
        lurker.expect("* talker talks")
        lurker.read_to_end()  # closed by member_idle (3 s), not by the 1 s idle_timeout
        assert time.monotonic() - started > 2.5
        late = Peer(where)
        late.send("late")
        assert "lurker" not in late.expect(lambda x: x.startswith("* in lobby"))[-1]
        late.close()
    finally:
        lurker.close()
        talker.close()
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "async"])
def test_room_clients_join_say_and_read_events(model: str) -> None:
    server = start_server("room@tcp://127.0.0.1:0", "--model", model)
    address = server.address("room")
    try:
        with RoomClient(address) as alice:
            alice.join("alice", "kitchen")
            with RoomClient(address) as twin, \
                    pytest.raises(RemoteError, match="nickname alice is taken in kitchen"):
                twin.join("alice", "kitchen")
            nc = Peer(address_of(server), "nc")
            nc.send("/join kitchen", "from nc")
            # in kitchen before bob asks who is there: under the thread model nc's lines
            # and bob's question are handled on two workers, in either order
            nc.expect("* in kitchen: alice, nc")

            async def program() -> list[tuple[str, str, str]]:
                bob = await AsyncRoomClient.connect(address)
                async with bob:
                    await bob.join("bob", "kitchen")
                    assert await bob.who() == ("alice", "bob", "nc")
                    await bob.say("hi all")
                    await bob.me("waves")
                    seen = []
                    async for event in bob.events(timeout=1):
                        seen.append((event.kind, event.nick, event.text))
                    return seen

            bob_saw = asyncio.run(program())
            assert ("join", "bob", "") not in bob_saw  # join() took its own notice
            nc.expect("[bob] hi all")
            nc.expect("* bob waves")
            events = []
            for event in alice.events(timeout=10):
                events.append((event.kind, event.nick, event.text))
                if event.kind == "leave" and event.nick == "bob":
                    break
            assert ("join", "nc", "") in events
            assert ("say", "nc", "from nc") in events
            assert events.index(("say", "bob", "hi all")) < events.index(("me", "bob", "waves"))
            nc.close()
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("args", [["--model", "iterative"], ["--model", "fork"],
                                  ["--workers", "2"]])
def test_without_a_broker_separate_processes_refuse_the_room(args: list[str]) -> None:
    result = run_cli("serve", "room@tcp://127.0.0.1:0", *args)
    assert result.returncode == 2, result.stdout
    assert "shares state between connections" in result.stderr
    assert "or give it a broker" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("option", "message"), [
    ("room.max_line=0", "max_line must be positive"),
    ("room.member_queue=lots", "expected a size"),
    ("room.flood_kick=-1", "flood_kick and member_idle are 0"),
    ("room.member_idle=-5", "flood_kick and member_idle are 0"),
    ("room.room=two words", "spaces"),
    ("room.broker=mysql://x", "write postgresql://"),
])
def test_bad_options_are_refused_clearly(option: str, message: str) -> None:
    result = run_cli("serve", "room@tcp://127.0.0.1:0", "-o", option)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
