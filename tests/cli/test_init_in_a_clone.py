"""A fresh clone of a repository whose remote has a board: every hint leads to that board,
and ``init --remote`` says that it adopted it."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import ok, one_error_line


def _fresh_clone(tmp_path: Path, bare_remote: Path, git, name: str) -> Path:
    path = tmp_path / name
    git(tmp_path, "clone", "-q", str(bare_remote), str(path))
    return path


def test_a_fresh_clone_is_led_to_init_remote_and_told_it_adopted(tmp_path: Path, run_cli, clone, bare_remote,
                                                                 git, board_tip) -> None:
    first = clone("first", init=False)
    ok(run_cli(["init", "--remote", "origin", "--team", "crew"], cwd=first))
    ok(run_cli(["task", "add", "shared work"], cwd=first))
    remote_tip = git(bare_remote, "rev-parse", "gitboard")

    fresh = _fresh_clone(tmp_path, bare_remote, git, "fresh")
    res = run_cli(["task", "list"], cwd=fresh)
    assert res.exit_code == 1
    assert "run 'gitboard init --remote origin' to use it" in one_error_line(res)

    # a plain init would make a second, unrelated board that later diverges: refused, nothing made
    res = run_cli(["init"], cwd=fresh)
    assert res.exit_code == 3 and "gitboard init --remote origin" in one_error_line(res)
    assert board_tip(fresh) is None

    res = ok(run_cli(["init", "--remote", "origin"], cwd=fresh))
    assert res.stdout == "adopted origin's board 'crew' on branch gitboard\n"
    assert board_tip(fresh) == remote_tip
    assert [t["subject"] for t in ok(run_cli(["task", "list", "--json"], cwd=fresh)).json()] == ["shared work"]
    again = ok(run_cli(["init", "--remote", "origin", "--json"], cwd=fresh)).json()
    assert again["created"] is False and again["adopted"] is False
    assert ok(run_cli(["init", "--remote", "origin"], cwd=fresh)).stdout.startswith("already set up: board 'crew'")


def test_a_clone_without_a_remote_board_is_told_plain_init(tmp_path: Path, run_cli, git_repo: Path) -> None:
    res = run_cli(["task", "list"], cwd=git_repo)
    assert res.exit_code == 1 and one_error_line(res).endswith("(run 'gitboard init')")
    ok(run_cli(["init"], cwd=git_repo))
