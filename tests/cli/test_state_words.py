"""One word for where a task stands: ``task show`` prints the state the list's state column
prints, and ``task list --status`` takes every word that column prints."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.helpers import ok, one_error_line


def _ids(res) -> list[int]:
    return [t["id"] for t in ok(res).json()]


def test_show_prints_the_state_once(run_cli, repo: Path) -> None:
    ok(run_cli(["task", "add", "first"], cwd=repo))
    ok(run_cli(["task", "add", "second", "--blocked-by", "1"], cwd=repo))
    for tid, word in ((1, "ready"), (2, "blocked")):
        rows = [ln.split() for ln in ok(run_cli(["task", "show", str(tid)], cwd=repo)).stdout.splitlines()]
        assert ["state", word] in rows
        assert not any(r[:1] == ["status"] for r in rows), rows


def test_list_filters_by_the_state_words_of_its_column(run_cli, repo: Path) -> None:
    for args in (["first"], ["second", "--blocked-by", "1"], ["third"], ["fourth"]):
        ok(run_cli(["task", "add", *args], cwd=repo))
    ok(run_cli(["task", "claim", "3", "--as", "alice", "--lease", "0.001"], cwd=repo))
    ok(run_cli(["task", "claim", "4", "--as", "bob"], cwd=repo))
    time.sleep(1.1)  # a lease ends on a whole second at most 1 s after it is asked to
    assert _ids(run_cli(["task", "list", "--status", "ready", "--json"], cwd=repo)) == [1]
    assert _ids(run_cli(["task", "list", "--status", "blocked", "--json"], cwd=repo)) == [2]
    assert _ids(run_cli(["task", "list", "--status", "expired", "--json"], cwd=repo)) == [3]
    assert _ids(run_cli(["task", "list", "--status", "pending", "--json"], cwd=repo)) == [1, 2]
    assert _ids(run_cli(["task", "list", "--status", "in_progress", "--json"], cwd=repo)) == [3, 4]
    human = ok(run_cli(["task", "list", "--status", "ready"], cwd=repo)).stdout.splitlines()
    assert [ln.split()[:2] for ln in human[1:]] == [["1", "ready"]]
    res = run_cli(["task", "list", "--status", "readdy"], cwd=repo)
    assert res.exit_code == 2 and "ready, blocked, expired" in one_error_line(res)
