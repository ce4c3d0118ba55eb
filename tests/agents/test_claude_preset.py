"""``--agent claude`` with the REAL Claude Code CLI against the loopback Messages API.

Each test runs a teammate on a real git repository; Claude Code (the npm package's binary)
works in the task's worktree, outside .git, and the fake server scripts what "the model"
does. Skipped, with the reason, where the binary is missing (see tests/helpers/claude_code.py).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from gitboard.store.repo import BoardRepo
from gitboard.agents import registry as agents
from gitboard.agents.agent_cli import session_file
from tests.helpers.claude_code import claude, answered_tool, claude_binary, claude_env, tool_results, workdir, write_then_say
from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, error, reply, text, tool_use
from tests.helpers.runtime_helpers import Spawner, add_tasks, board, git, log_of, make_project, teammate, wait_for


def project(tmp_path, binary, **config):
    path = make_project(tmp_path)
    git(path, "config", "gitboard.agent.claude.program", binary)
    for key, value in config.items():
        git(path, "config", f"gitboard.agent.claude.{key.replace('_', '-')}", value)
    return path


def claude_agent(path):
    with BoardRepo(path) as r:
        return agents.make("claude", config=r.config)


def run_teammate(path, **kw):
    t, lines = teammate(path, "alice", agent=claude_agent(path), idle_timeout=kw.pop("idle_timeout", 0.5), **kw)
    assert t.run() == 0
    return lines


def test_claude_completes_a_task_with_its_usage_cost_summary_and_session(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt", "description": "hello.txt says hi"}])
    api.handler = write_then_say("hello.txt", "hi\n", "I wrote hello.txt; it says hi.")
    lines = run_teammate(path)
    task = board(path).tasks[1]
    assert task.status == "completed", "\n".join(lines)
    res = task.result
    # Claude Code's own report, not gitboard's guess
    assert res["summary"] == "I wrote hello.txt; it says hi."
    assert res["usage"] == {"input_tokens": 190, "output_tokens": 30, "cache_read_input_tokens": 50,
                            "cache_creation_input_tokens": 30}
    reported = [float(m.group(1)) for ln in lines if (m := re.search(r"claude: success.*\$([\d.]+)", ln))]
    assert isinstance(res["cost_usd"], float) and res["cost_usd"] > 0 and reported
    assert abs(res["cost_usd"] - reported[-1]) < 1e-4
    assert re.fullmatch(r"[0-9a-f-]{36}", res["session_id"]) and res["num_turns"] == 2
    models = {r.body["model"] for r in api.message_requests if (r.body or {}).get("tools")}
    assert res["models"] == sorted(models) and res["agent"] == "claude"
    # the file Claude Code wrote is in the task's commit; its worktree was outside .git
    assert git(path, "show", f"{res['commit']}:hello.txt") == "hi"
    cwd = workdir(api.message_requests[0])
    assert ".git" not in cwd.split("/") and cwd.endswith("/task-1")
    assert all((r.body or {}).get("stream") for r in api.message_requests)
    with BoardRepo(path) as r:
        kept = json.loads(session_file(r.state_dir(), 1).read_text())
    assert kept == {"agent": "claude", "session_id": res["session_id"]}


def test_an_api_error_fails_the_task_with_claude_codes_reason(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt"}])
    api.handler = lambda rec: error(400, "the fake API refuses this request")
    lines = run_teammate(path)
    task = board(path).tasks[1]
    assert task.status == "failed", "\n".join(lines)
    assert "API Error: 400 the fake API refuses this request" in task.result["reason"]
    assert task.result["reason"].startswith("claude: ") and task.result["commit"]


def test_a_run_whose_every_tool_call_is_denied_fails_with_claude_codes_reason(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary, permission_mode="default")  # Write needs an approval nobody gives
    add_tasks(path, [{"subject": "Write hello.txt"}])
    api.handler = write_then_say("hello.txt", "hi\n", "I could not write the file.")
    lines = run_teammate(path)
    task = board(path).tasks[1]
    assert task.status == "failed", "\n".join(lines)
    reason = task.result["reason"]
    assert "changed nothing" in reason and "Write" in reason and "permission mode default" in reason
    assert "Claude requested permissions to write to" in reason
    assert task.result["permission_denials"][0]["tool_name"] == "Write"
    assert "--permission-mode default" in "\n".join(lines)


def test_accept_edits_is_the_default_permission_mode(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt"}])
    api.handler = write_then_say("hello.txt", "hi\n", "done")
    lines = run_teammate(path)
    assert any("--permission-mode acceptEdits" in ln for ln in lines)
    assert any("permission mode acceptEdits" in ln for ln in lines)  # what Claude Code itself says it runs
    assert board(path).tasks[1].status == "completed"


def test_a_token_budget_stops_claude_and_commits_the_work_so_far(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write two files"}])

    def handler(rec: Recorded) -> dict:
        if not (rec.body or {}).get("tools"):
            return reply(text("a title"))
        done = tool_results(rec)
        if done == 0:  # part 1, well inside the budget
            return reply(tool_use("Write", {"file_path": f"{workdir(rec)}/part1.txt", "content": "one\n"}),
                         usage={"input_tokens": 400, "output_tokens": 10})
        if done == 1:  # this turn's usage passes the budget
            return reply(tool_use("Write", {"file_path": f"{workdir(rec)}/part2.txt", "content": "two\n"}),
                         usage={"input_tokens": 5000, "output_tokens": 10})
        time.sleep(30)  # a third turn would take long: the budget has stopped Claude Code before
        return reply(text("never seen"))

    api.handler = handler
    started = time.monotonic()
    lines = run_teammate(path, budget_tokens=1000)
    task = board(path).tasks[1]
    assert task.status == "failed", "\n".join(lines)
    assert task.result["reason"].startswith("budget: claude used ") and "1,000-token budget" in task.result["reason"]
    assert git(path, "show", f"{task.result['commit']}:part1.txt") == "one"  # work so far committed
    assert task.result["usage"]["input_tokens"] >= 5000
    assert time.monotonic() - started < 25


def test_a_usd_budget_is_passed_to_claude_codes_own_limit(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt"}])
    # about $0.012 at Claude Code's own price for its default model: past the $0.01 budget, which
    # Claude Code keeps itself (gitboard's backstop is at 1.5 times the budget)
    api.handler = write_then_say("hello.txt", "hi\n", "done", first_usage={"input_tokens": 2400, "output_tokens": 1})
    lines = run_teammate(path, budget_usd=0.01)
    task = board(path).tasks[1]
    assert any("--max-budget-usd 0.01" in ln for ln in lines)
    assert task.status == "failed", "\n".join(lines)
    # Claude Code's own limit (error_max_budget_usd) -- or gitboard's backstop, should a newer Claude Code
    # default to a pricier model that overshoots 1.5x in one turn: either way a budget failure
    assert task.result["reason"].startswith("budget"), task.result["reason"]
    assert task.result["cost_usd"] > 0.01 and task.result["usage"]["input_tokens"] >= 2400


def test_a_takeover_resumes_the_session_it_ran_before(tmp_path, claude):
    """The first run is stopped half-way (a stall); the task goes back to pending; the next run of it in
    this clone continues Claude Code's session (--resume), so the model sees the conversation so far."""
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt"}])
    first = write_then_say("hello.txt", "hi\n", "done")
    hang = {"on": True}

    def handler(rec: Recorded) -> dict:
        if hang["on"] and answered_tool(rec):
            time.sleep(20)  # Claude Code waits for the model: no output -> stalled
        return first(rec)

    api.handler = handler
    lines = run_teammate(path, stall_timeout=10.0)  # not less: the run starts gitboard's MCP server first
    task = board(path).tasks[1]
    assert task.status == "pending", "\n".join(lines)
    assert any("stalled: no output" in ln for ln in lines)
    assert "release #1 by alice: stalled" in git(path, "log", "-1", "--format=%s", "gitboard", "--grep=release")
    with BoardRepo(path) as r:
        sid = json.loads(session_file(r.state_dir(), 1).read_text())["session_id"]
    hang["on"] = False
    before = len(api.message_requests)
    t, lines2 = teammate(path, "bob", agent=claude_agent(path), idle_timeout=0.5)
    assert t.run() == 0
    task = board(path).tasks[1]
    assert task.status == "completed", "\n".join(lines2)
    assert any(f"--resume {sid}" in ln for ln in lines2) and task.result["session_id"] == sid
    resumed = [r for r in api.message_requests[before:] if (r.body or {}).get("tools")]
    assert len(resumed[0].messages) > 1  # the earlier conversation came along
    assert git(path, "show", f"{task.result['commit']}:hello.txt") == "hi"
    # the stopped run's usage (its first turn, 90 input tokens, as streamed) is not lost with the release
    assert task.result["usage"]["input_tokens"] == 90 + 100 and task.result["usage"]["cache_read_input_tokens"] == 50


@pytest.mark.slow
def test_spawn_agent_claude_as_a_user_would(tmp_path, claude, gitboard_exe):
    """The console script, a detached teammate, the flags: a task done by Claude Code with a budget it keeps."""
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt"}])
    api.handler = write_then_say("hello.txt", "hi\n", "Wrote hello.txt.")
    spawner = Spawner(gitboard_exe)
    try:
        spawner.spawn(path, "alice", "--agent", "claude", "--budget-usd", "5", "--budget-tokens", "100000",
                      "--stall-timeout", "120", "--poll", "0.2", "--idle-timeout", "2")
        try:
            wait_for(lambda: board(path).tasks[1].status in ("completed", "failed"), 90, what="alice to finish #1")
        except AssertionError as e:
            raise AssertionError(f"{e}; alice's log:\n{log_of(path, 'alice')}") from None
    finally:
        spawner.cleanup()
    task = board(path).tasks[1]
    assert task.status == "completed", log_of(path, "alice")
    assert task.result["summary"] == "Wrote hello.txt." and task.result["session_id"]
    assert "--max-budget-usd 5" in log_of(path, "alice")
