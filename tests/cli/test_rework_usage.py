"""A reworked task counts every run: a real anthropic teammate (real SDK, loopback Messages
API) does a task, the lead rejects it through the CLI, the teammate does it again, and
``cost``, ``watch``, ``review`` and ``verify`` see both runs."""

from __future__ import annotations

import pytest

from tests.cli.helpers import ok
from tests.helpers.fake_messages_api import anthropic_env, fake_api, reply, text, tool_use  # noqa: F401  (fixtures)
from tests.helpers.runtime_helpers import Spawner, add_tasks, board, log_of, make_project, wait_for

pytestmark = pytest.mark.slow

MODEL = "claude-sonnet-5-5"


def test_cost_watch_and_review_count_both_runs_of_a_reworked_task(tmp_path, fake_api, gitboard_exe,
                                                                   run_gitboard) -> None:
    project = make_project(tmp_path)
    add_tasks(project, [{"subject": "Write the greeting"}])
    fake_api.script(
        reply(tool_use("write_file", {"path": "hello.txt", "content": "hello\n"}),
              usage={"input_tokens": 1000, "output_tokens": 100}),
        reply(text("Wrote hello.txt."), usage={"input_tokens": 20, "output_tokens": 10}),
        # the second run, after the lead's rejection
        reply(tool_use("write_file", {"path": "hello.txt", "content": "hello, world\n"}),
              usage={"input_tokens": 3000, "output_tokens": 300}),
        reply(text("Greeting fixed."), usage={"input_tokens": 40, "output_tokens": 20}),
    )
    spawner = Spawner(gitboard_exe)
    try:
        spawner.spawn(project, "alice", "--agent", "anthropic", "--model", MODEL, "--poll", "0.2",
                      "--idle-timeout", "60", "--lease", "30", env=fake_api.env())
        wait_for(lambda: board(project).tasks[1].status == "completed", 90, what="alice to finish #1")
        first = board(project).tasks[1].result
        assert first["usage"]["input_tokens"] >= 1020 and "runs" not in first, log_of(project, "alice")
        ok(run_gitboard(["reject", "1", "--feedback", "say hello to the world"], cwd=project))
        wait_for(lambda: board(project).tasks[1].status == "completed" and board(project).tasks[1].rework,
                 90, what="alice to finish #1 again")
    finally:
        spawner.cleanup()
    task = board(project).tasks[1]
    second = task.result
    assert second["usage"]["input_tokens"] >= 3040 and second["runs"] == [
        {"owner": "alice", "claimed_at": task.rework[0]["run"]["claimed_at"], "usage": first["usage"],
         "cost_usd": first["cost_usd"], "models": first["models"]}]
    both_in = first["usage"]["input_tokens"] + second["usage"]["input_tokens"]
    both_cost = first["cost_usd"] + second["cost_usd"]
    doc = ok(run_gitboard(["cost", "--json"], cwd=project)).json()
    assert doc["total"]["usage"]["input_tokens"] == both_in and doc["total"]["tasks"] == 1
    assert doc["total"]["cost_usd"] == pytest.approx(both_cost, abs=1e-6)
    assert ok(run_gitboard(["watch", "--once", "--json"], cwd=project)).json()["total"] == doc["total"]
    review = ok(run_gitboard(["review", "1"], cwd=project)).stdout
    assert f"input_tokens {both_in}" in review and "(2 runs)" in review
    assert ok(run_gitboard(["verify"], cwd=project)).exit_code == 0  # the rules the hook enforces accept it
