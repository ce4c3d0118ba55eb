"""The file and shell tools (gitboard.llm.tools): confinement to the worktree, caps, timeouts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitboard.llm import tools
from gitboard.llm.tools import ToolError


@pytest.fixture
def wt(git_repo: Path) -> Path:
    """A real ``git init`` work tree standing in for a task worktree."""
    return git_repo


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the worktree with a secret file."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("top secret\n")
    return d


# -- normal paths work ------------------------------------------------------------------

def test_write_read_edit_relative_paths(wt: Path) -> None:
    assert tools.write_file(wt, "src/pkg/a.txt", "one\ntwo\n") == "Wrote 8 bytes to src/pkg/a.txt"
    assert (wt / "src/pkg/a.txt").read_text() == "one\ntwo\n"
    assert tools.read_file(wt, "src/pkg/a.txt") == "one\ntwo"
    assert tools.edit_file(wt, "src/pkg/a.txt", "two", "2") == "Edited src/pkg/a.txt"
    assert (wt / "src/pkg/a.txt").read_text() == "one\n2\n"
    # `..` that stays inside the worktree is fine
    assert tools.read_file(wt, "src/../src/pkg/./a.txt") == "one\n2"


def test_symlink_inside_the_worktree_is_followed(wt: Path) -> None:
    (wt / "real").mkdir()
    (wt / "real/f.txt").write_text("x\n")
    os.symlink("real", wt / "alias")
    assert tools.read_file(wt, "alias/f.txt") == "x"
    tools.write_file(wt, "alias/g.txt", "y")
    assert (wt / "real/g.txt").read_text() == "y"


def test_read_limit_and_edit_first_occurrence(wt: Path) -> None:
    (wt / "f.txt").write_text("".join(f"line {i}\n" for i in range(10)))
    assert tools.read_file(wt, "f.txt", limit=2) == "line 0\nline 1\n... (8 more lines)"
    (wt / "g.txt").write_text("a a a")
    assert "occurs 3 times" in tools.edit_file(wt, "g.txt", "a", "b")
    assert (wt / "g.txt").read_text() == "b a a"


# -- escapes are refused ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["../x.txt", "../outside/secret.txt", "sub/../../x.txt", "a/b/../../../x.txt", ".."])
def test_dotdot_escapes_are_refused(wt: Path, outside: Path, path: str) -> None:
    for call in (lambda: tools.read_file(wt, path), lambda: tools.write_file(wt, path, "pwned"),
                 lambda: tools.edit_file(wt, path, "top", "pwned")):
        with pytest.raises(ToolError, match="outside the worktree"):
            call()
    assert not (wt.parent / "x.txt").exists()
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_absolute_paths_are_refused_even_inside(wt: Path, outside: Path) -> None:
    (wt / "inside.txt").write_text("hi")
    for path in (str(outside / "secret.txt"), str(wt / "inside.txt"), "/etc/passwd"):
        with pytest.raises(ToolError, match="absolute"):
            tools.read_file(wt, path)
        with pytest.raises(ToolError, match="absolute"):
            tools.write_file(wt, path, "pwned")
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_symlinks_pointing_outside_are_refused(wt: Path, outside: Path) -> None:
    os.symlink(outside, wt / "dirlink")                      # a directory link
    os.symlink(outside / "secret.txt", wt / "filelink")      # a file link
    os.symlink(outside / "new.txt", wt / "dangling")         # a link to a file not there yet
    for path in ("dirlink/secret.txt", "filelink", "dirlink", "dangling"):
        with pytest.raises(ToolError, match="outside the worktree"):
            tools.read_file(wt, path)
        with pytest.raises(ToolError, match="outside the worktree"):
            tools.write_file(wt, path, "pwned")
        with pytest.raises(ToolError, match="outside the worktree"):
            tools.edit_file(wt, path, "top", "pwned")
    with pytest.raises(ToolError, match="outside the worktree"):
        tools.write_file(wt, "dirlink/sub/new.txt", "pwned")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_git_dir_empty_path_and_nul_are_refused(wt: Path) -> None:
    with pytest.raises(ToolError, match=".git"):
        tools.write_file(wt, ".git/config", "x")
    with pytest.raises(ToolError, match=".git"):
        tools.read_file(wt, "sub/../.git/HEAD")
    with pytest.raises(ToolError, match="empty"):
        tools.read_file(wt, "")
    with pytest.raises(ToolError, match="NUL"):
        tools.read_file(wt, "a\x00b")


def test_file_errors_are_tool_errors(wt: Path) -> None:
    with pytest.raises(ToolError, match="no such file"):
        tools.read_file(wt, "missing.txt")
    with pytest.raises(ToolError, match="no such file"):
        tools.edit_file(wt, "missing.txt", "a", "b")
    (wt / "d").mkdir()
    with pytest.raises(ToolError, match="directory"):
        tools.read_file(wt, "d")
    (wt / "f.txt").write_text("abc")
    with pytest.raises(ToolError, match="not found"):
        tools.edit_file(wt, "f.txt", "zzz", "y")
    (wt / "bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary"):
        tools.read_file(wt, "bin")


def test_read_output_is_capped(wt: Path) -> None:
    (wt / "big.txt").write_text("x" * (tools.MAX_OUTPUT_CHARS * 3))
    out = tools.read_file(wt, "big.txt")
    assert len(out) < tools.MAX_OUTPUT_CHARS + 100
    assert "characters omitted" in out


# -- bash -------------------------------------------------------------------------------

def test_bash_runs_in_the_worktree_with_exit_code(wt: Path) -> None:
    r = tools.run_bash(wt, "pwd; echo err >&2; exit 3")
    assert r.exit_code == 3 and not r.timed_out
    assert Path(r.output.splitlines()[0]).resolve() == wt.resolve()
    assert "err" in r.output
    assert r.to_text().endswith("[exit code 3]")
    assert tools.run_bash(wt, "true").to_text() == "(no output)"


def test_bash_env_is_the_given_one(wt: Path) -> None:
    r = tools.run_bash(wt, 'echo "v=$GB_TEST_VAR"', env={"PATH": os.environ["PATH"], "GB_TEST_VAR": "42"})
    assert r.output.strip() == "v=42"


def test_bash_timeout_kills_the_process_group(wt: Path) -> None:
    start = time.monotonic()
    r = tools.run_bash(wt, "sleep 30 & sleep 30", timeout=0.5)
    assert time.monotonic() - start < 8
    assert r.timed_out and r.exit_code is None
    assert "timed out" in r.to_text()


def test_bash_output_is_capped(wt: Path) -> None:
    r = tools.run_bash(wt, "head -c 3000000 /dev/zero | tr '\\0' 'x'; echo END", max_output=10_000)
    assert len(r.output) < 10_200
    assert "omitted" in r.output
    assert r.output.rstrip().endswith("END")


def test_bash_does_not_wait_for_background_children(wt: Path) -> None:
    start = time.monotonic()
    r = tools.run_bash(wt, "sleep 4 & echo started")
    assert time.monotonic() - start < 8
    assert "started" in r.output and r.exit_code == 0


def test_bash_refuses_an_empty_command(wt: Path) -> None:
    with pytest.raises(ToolError):
        tools.run_bash(wt, "  ")
