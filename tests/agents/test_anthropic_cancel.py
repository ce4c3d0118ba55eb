"""The anthropic agent stops when the runtime tells it to (``port.cancel``: SIGTERM/Ctrl-C, a lost
lease): no model turn or tool call after that, and the runtime releases the task with the work so far."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitboard.proc import pid_alive
from gitboard.agents.anthropic import AnthropicAgent
from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, reply, tool_use
from tests.helpers.fake_port import FakePort, make_ctx
from tests.helpers.runtime_helpers import (Spawner, add_tasks, board, git, log_of, make_project, task_worktree,
                                        wait_for)


@dataclass
class CancellablePort(FakePort):
    """FakePort with the runtime's stop signal, like BoardPort.cancel."""

    cancel: threading.Event = field(default_factory=threading.Event)


@pytest.mark.usefixtures("anthropic_env")
def test_no_tool_call_runs_after_the_cancel_is_set(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path):
    port = CancellablePort()

    def handler(rec: Recorded) -> dict:
        n = len(fake_api.message_requests)
        if n >= 2:
            port.cancel.set()  # the lease is lost (or a signal came) while the model was thinking
        return reply(tool_use("write_file", {"path": f"step{n}.txt", "content": "x"}))

    fake_api.handler = handler
    out = AnthropicAgent(max_retries=0).run(make_ctx(git_repo, tmp_path / "state", port))
    assert not out.ok and out.reason.startswith("stopped")
    assert (git_repo / "step1.txt").exists() and not (git_repo / "step2.txt").exists()
    assert len(fake_api.message_requests) == 2  # no model turn after the stop


@pytest.mark.usefixtures("anthropic_env")
def test_a_running_bash_command_is_stopped(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path):
    port = CancellablePort()
    fake_api.script(reply(tool_use("bash", {"command": "sleep 30"})))
    threading.Timer(0.5, port.cancel.set).start()
    started = time.monotonic()
    out = AnthropicAgent(max_retries=0).run(make_ctx(git_repo, tmp_path / "state", port))
    assert time.monotonic() - started < 10
    assert not out.ok and out.reason.startswith("stopped")
    assert len(fake_api.message_requests) == 1


@pytest.mark.slow
def test_sigterm_stops_a_spawned_anthropic_teammate_and_releases_its_task(tmp_path, fake_api, gitboard_exe):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "never ends", "description": "The model keeps calling bash."}])
    fake_api.handler = lambda rec: reply(tool_use("bash", {"command": "echo step >> steps.txt; sleep 0.1"}))
    spawner = Spawner(gitboard_exe)
    try:
        pid = spawner.spawn(path, "alice", "--agent", "anthropic", "--model", "claude-test-model",
                            "--poll", "0.2", "--idle-timeout", "30", "--lease", "30", env=fake_api.env())
        steps = task_worktree(path, 1) / "steps.txt"
        wait_for(lambda: steps.exists() and steps.read_text().count("step") >= 2, 60, what="alice to work")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), 15, what="alice to stop after SIGTERM")
    finally:
        spawner.cleanup()
    log = log_of(path, "alice")
    task = board(path).tasks[1]
    assert task.status == "pending" and task.owner == "", log
    assert "released #1" in log
    assert "step" in git(path, "show", "task/1:steps.txt")  # the work so far is committed
    assert "Work in progress, released by alice" in git(path, "log", "-1", "--format=%B", "task/1")
    calls = len(fake_api.message_requests)
    time.sleep(0.5)
    assert len(fake_api.message_requests) == calls
    assert board(path).team.member("alice").status == "shutdown"
