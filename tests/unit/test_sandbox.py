"""The sandbox: nothing outside the root is ever opened or listed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzz.targets import check_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hosepipe.files.sandbox import Refused, Sandbox
from tests.conftest import FileTree, make_tree

SERVED = {
    "docs/report.txt": "the report\n",
    "./docs//report.txt": "the report\n",
    "docs/deep/../report.txt": "the report\n",
    "in-link": "the report\n",
    "abs-in-dir/report.txt": "the report\n",
    "docs/winding": "the report\n",
    "abs-in-dir/deep/note.txt": "deep note\n",
    "empty.txt": "",
}

REFUSED = {
    "../outside/secret.txt": "outside",
    "/etc/passwd": "absolute",
    "/" : "absolute",
    "out-link": "outside",
    "out-dir/secret.txt": "outside",
    "etc/passwd": "outside",
    "sibling-link": "outside",
    "../rootbar/x.txt": "outside",
    "docs/../../outside/secret.txt": "outside",
    ".env": "hidden",
    ".private/key": "hidden",
    "docs/.": "directory",
    "docs": "directory",
    "": "empty",
    "   ": "empty",
    "docs\0/report.txt": "NUL",
    "fifo": "regular",
    "dangling": "no such",
    "loop-a": "symlinks",
    "docs/report.txt/more": "not a directory",
    "x" * 5000: "too long",
}


def content(sandbox: Sandbox, path: str) -> str:
    fd, _ = sandbox.open_file(path)
    try:
        return os.read(fd, 100).decode()
    finally:
        os.close(fd)


@pytest.mark.parametrize(("path", "expected"), SERVED.items())
def test_served_inside_the_root(tree: FileTree, path: str, expected: str) -> None:
    sandbox = Sandbox(str(tree.root))
    try:
        assert content(sandbox, path) == expected
    finally:
        sandbox.close()


@pytest.mark.parametrize(("path", "reason"), REFUSED.items())
def test_refused(tree: FileTree, path: str, reason: str) -> None:
    sandbox = Sandbox(str(tree.root))
    try:
        with pytest.raises(Refused, match=reason):
            sandbox.open_file(path)
    finally:
        sandbox.close()


def test_hidden_files_only_when_the_binding_says_so(tree: FileTree) -> None:
    sandbox = Sandbox(str(tree.root), hidden=True)
    try:
        assert content(sandbox, ".env") == "hidden secret\n"
        assert ".env" in [item.name for item in sandbox.listing("")]
    finally:
        sandbox.close()


def test_listing_shows_only_what_can_be_served(tree: FileTree) -> None:
    sandbox = Sandbox(str(tree.root))
    try:
        listed = {item.name: item.type for item in sandbox.listing("")}
        assert listed == {"abs-in-dir": "dir", "docs": "dir", "empty.txt": "file",
                          "in-link": "file"}
        with pytest.raises(Refused):
            sandbox.listing("out-dir")
        with pytest.raises(Refused):
            sandbox.listing("..")
    finally:
        sandbox.close()


def test_a_symlink_swapped_in_after_the_check_is_not_followed(tree: FileTree) -> None:
    """The walk opens each component with O_NOFOLLOW: replacing a directory with a link
    to the outside between two requests cannot make the second one escape."""
    sandbox = Sandbox(str(tree.root))
    try:
        assert content(sandbox, "docs/deep/note.txt") == "deep note\n"
        os.rename(tree.root / "docs" / "deep", tree.root / "docs" / "moved")
        os.symlink(str(tree.outside), tree.root / "docs" / "deep")
        (tree.outside / "note.txt").write_text("outside note\n")
        with pytest.raises(Refused, match="outside"):
            sandbox.open_file("docs/deep/note.txt")
    finally:
        sandbox.close()


components = st.sampled_from(
    ["..", ".", "", "docs", "deep", "report.txt", "out-link", "out-dir", "etc", "passwd",
     "rootbar", "x.txt", "outside", "secret.txt", "in-link", "abs-in-dir", "winding", ".env",
     "fifo", "loop-a", "note.txt", "sibling-link", "\0", "%2e%2e", "..."]
)
paths = st.lists(components, min_size=1, max_size=8).map("/".join) | st.text(max_size=40)


@pytest.fixture(scope="module")
def module_tree(tmp_path_factory: pytest.TempPathFactory) -> FileTree:
    return make_tree(tmp_path_factory.mktemp("hypothesis"))


@given(path=paths, leading_slash=st.booleans())
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_paths_never_escape(module_tree: FileTree, path: str, leading_slash: bool
                                      ) -> None:
    sandbox = Sandbox(str(module_tree.root))
    try:
        for candidate in (path, "/" + path if leading_slash else path):
            check_path(sandbox, candidate)  # inside the root, nothing hidden
            try:
                names = [item.name for item in sandbox.listing(candidate)]
            except Refused:
                continue
            assert "secret.txt" not in names and "x.txt" not in names  # this tree's outsiders
    finally:
        sandbox.close()


def test_root_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Sandbox(str(tmp_path / "missing"))
