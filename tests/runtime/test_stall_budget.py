"""Stalls (--stall-timeout), the team budget (git config gitboard.budget.usd) and the budget flags."""

from __future__ import annotations

import time
from functools import partial

import pytest

from gitboard.board import task_ops
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from gitboard.agents.exec import ExecAgent
from tests.helpers.runtime_helpers import add_tasks, board, git, make_project, teammate


def test_a_hung_command_is_stopped_its_work_committed_and_its_task_released_as_stalled(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "hangs", "run": "echo started > wip.txt; echo started; sleep 600"}])
    started = time.monotonic()
    t, lines = teammate(path, "alice", stall_timeout=1.5, idle_timeout=1.0)
    assert t.run() == 0
    assert time.monotonic() - started < 60
    task = board(path).tasks[1]
    assert task.status == "pending" and task.owner == "", "\n".join(lines)
    assert any("stalled: no output and no tool call for" in ln for ln in lines), lines
    assert "release #1 by alice: stalled: no output" in git(path, "log", "-1", "--format=%s", "--grep=release", "gitboard")
    assert git(path, "show", "task/1:wip.txt") == "started"  # the work so far, committed
    assert "stalled" in git(path, "log", "-1", "--format=%B", "task/1")
    # it went back to idle rather than exiting, and left the task to someone else
    assert any("idle for" in ln for ln in lines) and sum("claimed #1" in ln for ln in lines) == 1
    assert board(path).team.member("alice").status == "shutdown"


def test_a_command_that_keeps_printing_is_not_stalled(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "slow but alive", "run": "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done"}])
    t, lines = teammate(path, "alice", stall_timeout=1.5)
    assert t.run() == 0
    assert board(path).tasks[1].status == "completed", "\n".join(lines)
    assert not any("stalled" in ln for ln in lines)


def test_the_team_budget_stops_claims_and_says_so(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "spent", "run": "true"}, {"subject": "next", "run": "true"}])
    with BoardRepo(path) as r:
        transact(r, partial(task_ops.claim, actor="bob", task_id=1, lease=600))
        transact(r, partial(task_ops.finish, actor="bob", task_id=1, ok=True,
                            result={"branch": "task/1", "commit": None, "summary": "", "cost_usd": 1.25,
                                    "usage": {"input_tokens": 10, "output_tokens": 5,
                                              "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}))
    git(path, "config", "gitboard.budget.usd", "1.00")
    t, lines = teammate(path, "alice")
    assert t.run() == 0
    assert board(path).tasks[2].status == "pending"
    said = [ln for ln in lines if "team budget reached" in ln]
    assert len(said) == 1 and "$1.2500 recorded on the board of the $1.0000 budget" in said[0]
    git(path, "config", "gitboard.budget.usd", "2")
    t, lines = teammate(path, "alice")
    assert t.run() == 0 and board(path).tasks[2].status == "completed"


@pytest.mark.parametrize("args, message", [
    (["--budget-usd", "0"], "--budget-usd must be a positive number"),
    (["--budget-usd", "nan"], "--budget-usd must be a positive number"),
    (["--budget-tokens", "0"], "--budget-tokens must be at least 1"),
    (["--stall-timeout", "-1"], "--stall-timeout must be a positive number"),
])
def test_bad_budget_and_stall_flags_are_refused(repo, run_cli, args, message):
    for cmd in ("spawn", "work"):
        res = run_cli([cmd, "alice", "--agent", "shell", *args], cwd=repo)
        assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: ") and message in res.stderr


def test_a_bad_team_budget_is_refused_at_start(tmp_path, run_cli):
    path = make_project(tmp_path)
    git(path, "config", "gitboard.budget.usd", "lots")
    res = run_cli(["work", "alice", "--agent", "shell"], cwd=path)
    assert res.exit_code == 2 and "gitboard.budget.usd must be a positive number" in res.stderr


def test_budget_flags_reach_the_agent_context(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    seen = {}

    class Probe(ExecAgent):
        def run(self, ctx):
            seen.update(usd=ctx.budget_usd, tokens=ctx.budget_tokens)
            return super().run(ctx)

    t, lines = teammate(path, "alice", agent=Probe("true"), budget_usd=0.5, budget_tokens=1000)
    assert t.run() == 0
    assert seen == {"usd": 0.5, "tokens": 1000}


def test_spawn_passes_the_budget_and_stall_options_to_the_teammate(tmp_path, run_cli):
    from gitboard.cli.team_runtime_cmds import _work_options

    opts = _work_options("claude", None, None, None, None, 5.0, 60.0, 600.0, None, 0.25, 5000, 120.0)
    assert opts[opts.index("--budget-usd") + 1] == "0.25" and opts[opts.index("--budget-tokens") + 1] == "5000"
    assert opts[opts.index("--stall-timeout") + 1] == "120.0"
