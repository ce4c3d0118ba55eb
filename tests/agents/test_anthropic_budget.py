"""The anthropic agent's cost from usage and its stop on a budget (real SDK, loopback Messages API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitboard.agents.anthropic import AnthropicAgent
from tests.helpers.fake_messages_api import FakeMessagesAPI, reply, text, tool_use
from tests.helpers.fake_port import FakePort, make_ctx

pytestmark = pytest.mark.usefixtures("anthropic_env")

MODEL = "claude-sonnet-5-5"  # $2 in, $10 out, $2.50 cache write, $0.10 cache read per MTok


def _writes(n: int, usage: dict) -> list[dict]:
    return [reply(tool_use("write_file", {"path": f"f{i}.txt", "content": f"{i}\n"}), usage=usage) for i in range(n)]


def test_cost_models_and_turns_are_recorded(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path) -> None:
    fake_api.script(reply(tool_use("write_file", {"path": "a.txt", "content": "a"}),
                          usage={"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 2000}),
                    reply(text("done"), usage={"input_tokens": 10, "output_tokens": 50,
                                               "cache_read_input_tokens": 3000}))
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "s", FakePort(), model=MODEL))
    assert out.ok
    expected = (1010 * 2 + 150 * 10 + 2000 * 2.5 + 3000 * 0.1) / 1e6
    assert out.details["cost_usd"] == pytest.approx(expected)
    assert out.details["models"] == [MODEL] and out.details["num_turns"] == 2
    assert out.details["session_id"] is None


def test_token_budget_stops_the_work_near_its_limit(fake_api: FakeMessagesAPI, git_repo: Path,
                                                    tmp_path: Path) -> None:
    # each turn: 2,000 prompt tokens + 500 output = 2,500 tokens; a 10,000-token budget allows 4 turns
    fake_api.script(*_writes(10, {"input_tokens": 2000, "output_tokens": 500}))
    port = FakePort()
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "s", port, model=MODEL,
                                                     budget_tokens=10_000))
    assert not out.ok and out.reason.startswith("budget reached: 10,000 tokens used of the 10,000-token budget")
    reqs = fake_api.message_requests
    assert len(reqs) == 4 and out.usage.input_tokens + out.usage.output_tokens == 10_000
    # the last turn's max_tokens was clamped to what the budget had left (10,000 - 7,500 - 2,000)
    assert reqs[-1].body["max_tokens"] == 500
    assert all((git_repo / f"f{i}.txt").exists() for i in range(3))  # the work so far is in the worktree
    assert any(line.startswith("budget reached") for line in port.logs)


def test_usd_budget_stops_before_a_turn_it_cannot_afford(fake_api: FakeMessagesAPI, git_repo: Path,
                                                        tmp_path: Path) -> None:
    # each turn costs 1,000 * $2 + 1,000 * $10 per MTok = $0.012
    fake_api.script(*_writes(10, {"input_tokens": 1000, "output_tokens": 1000}))
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "s", FakePort(), model=MODEL,
                                                     budget_usd=0.05))
    assert not out.ok and out.reason.startswith("budget")
    assert 0.036 <= out.details["cost_usd"] <= 0.05 + 1e-9
    assert len(fake_api.message_requests) in (3, 4)


def test_usd_budget_with_an_unpriced_model_fails_before_any_request(fake_api: FakeMessagesAPI, git_repo: Path,
                                                                   tmp_path: Path) -> None:
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "s", FakePort(), budget_usd=1.0))
    assert not out.ok and out.reason.startswith("budget: cannot keep the $1.0 budget")
    assert "git config gitboard.price.claude-test-model" in out.reason
    assert fake_api.message_requests == []


@pytest.mark.slow
def test_a_budget_stops_a_spawned_anthropic_teammate_near_its_limit(tmp_path: Path, fake_api: FakeMessagesAPI,
                                                                    gitboard_exe: Path) -> None:
    from gitboard.proc import pid_alive
    from tests.helpers.runtime_helpers import Spawner, add_tasks, board, git, log_of, make_project, wait_for

    project = make_project(tmp_path)
    add_tasks(project, [{"subject": "Write ten files"}])
    # each turn: 2,000 prompt tokens + 500 output; a $0.05 budget at $2/$10 per MTok is 5 turns of $0.009
    fake_api.script(*_writes(10, {"input_tokens": 2000, "output_tokens": 500}))
    spawner = Spawner(gitboard_exe)
    try:
        pid = spawner.spawn(project, "alice", "--agent", "anthropic", "--model", MODEL, "--budget-usd", "0.05",
                            "--poll", "0.2", "--idle-timeout", "1", "--lease", "30", env=fake_api.env())
        wait_for(lambda: not pid_alive(pid), 90, what="alice to stop on the budget and shut down")
    finally:
        spawner.cleanup()
    task = board(project).tasks[1]
    log = log_of(project, "alice")
    assert task.status == "failed", log
    result = task.result
    assert result["reason"].startswith("budget reached"), result
    assert 0.05 - 0.009 <= result["cost_usd"] <= 0.05 + 1e-9  # near the limit, never past it
    assert result["models"] == [MODEL] and result["num_turns"] == len(fake_api.message_requests) == 5
    # the work so far is committed on the task's branch
    files = git(project, "ls-tree", "--name-only", result["commit"]).split()
    assert {f"f{i}.txt" for i in range(5)} <= set(files)
    assert "budget reached" in log
