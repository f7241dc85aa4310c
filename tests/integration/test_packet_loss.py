"""Packet loss between two network namespaces made here: requests complete, or fail
with hosepipe's own timeout error; none hangs.

The namespaces, their veth pair and their addresses exist only inside this test (no
traffic leaves them); an nftables rule in the server's namespace drops a share of the
packets it receives. Skipped, with the reason, where namespaces cannot be created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVER_IP, CLIENT_IP = "10.254.77.2", "10.254.77.1"

CLIENT = """
import json, sys, time
from hosepipe import Client, HosepipeError
address, count = sys.argv[1], int(sys.argv[2])
ok = failed = 0
kinds = set()
started = time.monotonic()
for n in range(count):
    try:
        with Client(address, timeout=1.5) as client:
            assert client.request(n) == n * n
            ok += 1
    except HosepipeError as exc:
        failed += 1
        kinds.add(type(exc).__name__)
print(json.dumps({"ok": ok, "failed": failed, "kinds": sorted(kinds),
                  "seconds": time.monotonic() - started}))
"""


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create network namespaces")
    if shutil.which("nft") is None:
        pytest.skip("needs nftables (.ci/run installs it)")
    tag = uuid.uuid4().hex[:6]
    server_ns, client_ns = f"hp-srv-{tag}", f"hp-cli-{tag}"
    try:
        run("ip", "netns", "add", server_ns)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.decode().strip()}")
    try:
        run("ip", "netns", "add", client_ns)
        run("ip", "link", "add", f"hpa{tag}", "netns", client_ns, "type", "veth", "peer",
            "name", f"hpb{tag}", "netns", server_ns)
        ends = ((client_ns, f"hpa{tag}", CLIENT_IP), (server_ns, f"hpb{tag}", SERVER_IP))
        for ns, dev, ip in ends:
            run("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        yield server_ns, client_ns
    finally:
        for ns in (client_ns, server_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def drop_share(namespace: str, percent: int) -> None:
    run("ip", "netns", "exec", namespace, "nft", "add", "table", "inet", "hosepipe_loss")
    run("ip", "netns", "exec", namespace, "nft", "add", "chain", "inet", "hosepipe_loss",
        "input", "{ type filter hook input priority 0 ; }")
    run("ip", "netns", "exec", namespace, "nft", "add", "rule", "inet", "hosepipe_loss",
        "input", "numgen", "random", "mod", "100", "<", str(percent), "drop")


def test_requests_complete_or_time_out_under_packet_loss(namespaces: tuple[str, str]) -> None:
    server_ns, client_ns = namespaces
    drop_share(server_ns, 30)
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, sys.executable, "-m", "hosepipe", "-q", "serve",
         f"square@tcp://{SERVER_IP}:0", "--model", "select", "--idle-timeout", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert server.stdout is not None
        address = server.stdout.readline().split()[1]
        client = subprocess.run(
            ["ip", "netns", "exec", client_ns, sys.executable, "-c", CLIENT, address, "40"],
            cwd=ROOT, capture_output=True, text=True, timeout=240,  # a hang would stop here
        )
        assert client.returncode == 0, client.stderr[-2000:]
        result = json.loads(client.stdout)
        print("packet loss run:", result)
        assert result["ok"] + result["failed"] == 40
        assert result["ok"] > 0  # TCP retransmits get most requests through
        assert set(result["kinds"]) <= {"Timeout", "ConnectError", "ConnectionClosed"}
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
