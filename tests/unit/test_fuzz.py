"""A short run of every fuzz target under Hypothesis (``make fuzz`` runs them longer)."""

from __future__ import annotations

import pytest
from fuzz.targets import TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st

inputs = st.binary(max_size=2048) | st.sampled_from([
    b"\x00\x00\x00\x05hello", b"\xff\xff\xff\xff" + b"\xff" * 8, b"#CHALLENGE#{sha256}" + b"x" * 40,
    b"[" * 5000, b"\x91" * 5000, b"../../etc/passwd", b"docs/a.txt", b"out", b"Hi\n3\n-4\n",
])


@pytest.mark.parametrize("name", sorted(TARGETS))
@given(data=inputs)
@settings(max_examples=150, deadline=None)
def test_target(name: str, data: bytes) -> None:
    TARGETS[name](data)
