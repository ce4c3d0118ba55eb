"""End to end with the anthropic agent: a spawned teammate, the real anthropic SDK, and the
loopback Messages API server of fake_messages_api.py (ANTHROPIC_BASE_URL + a dummy key).

spawn -> claim -> tool calls edit files in the worktree -> the harness commits, pushes and
completes the task -> idle -> idle timeout -> shutdown, process exited.
"""

from __future__ import annotations

import pytest

from gitboard.proc import pid_alive
from tests.helpers.fake_messages_api import reply, text, tool_use
from tests.helpers.runtime_helpers import Spawner, add_tasks, board, git, log_of, make_remote_project, wait_for

pytestmark = pytest.mark.slow


def test_spawned_anthropic_teammate_does_a_task_end_to_end(tmp_path, fake_api, gitboard_exe):
    remote, (clone,) = make_remote_project(tmp_path, ["clone"])
    add_tasks(clone, [{"subject": "Write the greeting", "description": "Put a greeting in hello.txt."}])
    fake_api.script(
        reply(tool_use("write_file", {"path": "hello.txt", "content": "hello\n"})),
        reply(tool_use("edit_file", {"path": "hello.txt", "old_text": "hello", "new_text": "hello, world"}),
              usage={"cache_read_input_tokens": 7}),
        reply(text("Wrote hello.txt with a greeting.")),
    )
    spawner = Spawner(gitboard_exe)
    try:
        pid = spawner.spawn(clone, "alice", "--agent", "anthropic", "--model", "claude-test-model",
                            "--poll", "0.2", "--idle-timeout", "2", "--lease", "30", env=fake_api.env())
        wait_for(lambda: not pid_alive(pid), 90, what="alice to finish and shut down")
    finally:
        spawner.cleanup()
    log = log_of(clone, "alice")
    task = board(clone).tasks[1]
    assert task.status == "completed", log
    result = task.result
    assert result["branch"] == "task/1"
    assert result["summary"] == "Wrote hello.txt with a greeting."
    assert result["usage"] == {"input_tokens": 30, "output_tokens": 15, "cache_read_input_tokens": 7,
                               "cache_creation_input_tokens": 0}
    # committed by the harness, pushed to the shared remote
    assert git(remote, "rev-parse", "refs/heads/task/1") == result["commit"]
    assert git(remote, "show", "refs/heads/task/1:hello.txt") == "hello, world"
    msg = git(remote, "log", "-1", "--format=%B", "refs/heads/task/1")
    assert msg.startswith("task #1: Write the greeting") and "Gitboard-Actor: alice" in msg
    # the model saw the task and its worktree; the requests used the model asked for
    first = fake_api.message_requests[0]
    assert first.body["model"] == "claude-test-model" and first.body["max_tokens"] <= 16000
    assert "Write the greeting" in first.all_text() and "task-1" in first.all_text()
    # the loop: claimed, tool calls logged, done, idle timeout, shutdown
    for line in ("[alice] claimed #1", "[alice] write_file: hello.txt", "[alice] edit_file: hello.txt",
                 "[alice] pushed task/1", "[alice] done #1", "[alice] idle for 2 s: shutting down"):
        assert line in log, log
    assert board(clone).team.member("alice").status == "shutdown"
    assert git(clone, "worktree", "list").count("\n") == 0


def test_message_while_idle_resumes_work_with_the_anthropic_agent(tmp_path, fake_api, anthropic_env):
    from functools import partial

    from gitboard.board import inbox_ops, roster_ops
    from gitboard.store.repo import BoardRepo
    from gitboard.store.transact import transact
    from gitboard.agents.anthropic import AnthropicAgent
    from gitboard.runtime.loop import Settings, Teammate
    from tests.helpers.runtime_helpers import make_project

    path = make_project(tmp_path)
    with BoardRepo(path) as r:
        transact(r, partial(roster_ops.add_member, actor="lead", name="alice"))
        transact(r, partial(inbox_ops.send, sender="lead", to="alice", content="what is the status?", msg_id="m1"))
    fake_api.script(reply(tool_use("send_message", {"to": "lead", "content": "nothing to report"})),
                    reply(text("Answered the lead.")))
    lines: list[str] = []
    t = Teammate(Settings(name="alice", repo_path=str(path), model="claude-test-model", poll=0.1,
                          idle_timeout=0.5, lease=30), AnthropicAgent(), log=lines.append)
    assert t.run() == 0
    assert "what is the status?" in fake_api.message_requests[0].all_text()
    with BoardRepo(path) as r:
        from gitboard.store.read import read_board

        inbox = inbox_ops.peek(read_board(r), "lead")
    assert [m.content for m in inbox] == ["nothing to report"]
    assert any("1 message(s) while idle" in ln for ln in lines)
    assert git(path, "worktree", "list").count("\n") == 0 and not board(path).tasks
