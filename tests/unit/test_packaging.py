"""The package metadata installs without setuptools' license deprecation warning: the
license is an SPDX expression with its file, which needs setuptools 77 or newer."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).parents[2]


def test_license_is_an_spdx_expression_with_its_file() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"  # a string, not the deprecated table
    for name in data["project"]["license-files"]:
        assert "MIT License" in (ROOT / name).read_text()
    assert not any(c.startswith("License ::") for c in data["project"]["classifiers"])
    assert "setuptools>=77" in data["build-system"]["requires"]
