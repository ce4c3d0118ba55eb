"""The ``gitboard lead`` REPL driven as a terminal program in tmux, against the loopback Messages API:
/tasks, a prompt, Ctrl-C during a model call (the session goes on), Ctrl-D (it leaves)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, fake_api, reply, text, tool_use  # noqa: F401
from tests.helpers.runtime_helpers import add_tasks, board, make_project, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

PROMPT = "gitboard lead >>"  # capture-pane drops the prompt's trailing space


class Tmux:
    """One tmux server of our own (its own socket), one window running ``command``."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.sock = f"gitboard-test-{uuid.uuid4().hex[:8]}"
        self.run("new-session", "-d", "-s", "t", "-x", "160", "-y", "50", "-c", str(cwd), command)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=30).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t", "-S", "-200")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def type(self, line: str) -> None:
        self.run("send-keys", "-t", "t", "-l", line)
        self.keys("Enter")

    def wait(self, needle: str, count: int = 1, timeout: float = 60.0) -> str:
        try:
            return wait_for(lambda: self.screen().count(needle) >= count and self.screen(), timeout,
                            what=f"{needle!r} x{count} on the screen")
        except AssertionError as e:
            raise AssertionError(f"{e}; the screen:\n{self.screen()}") from None

    def close(self) -> None:
        self.run("kill-server")


def test_the_repl_in_a_terminal(tmp_path: Path, fake_api: FakeMessagesAPI, gitboard_exe: Path) -> None:
    project = make_project(tmp_path)
    add_tasks(project, [{"subject": "Write the greeting"}])
    release = threading.Event()

    def slow(rec: Recorded) -> dict:
        release.wait(60)  # the model "thinks" until the test lets it go
        return reply(text("too late"))

    fake_api.script(reply(text("I will add it."), tool_use("task_create", {"subject": "Write the farewell"})),
                    reply(text("Created task #2.")),
                    slow,
                    reply(text("Here again.")))
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in fake_api.env().items())
    tmux = Tmux(f"env {env} {shlex.quote(str(gitboard_exe))} lead --model claude-sonnet-5-5; "
                "echo LEAD-EXITED-$?; sleep 60", project)
    try:
        tmux.wait(PROMPT)
        tmux.type("/tasks")
        screen = tmux.wait("Write the greeting")
        tmux.wait(PROMPT, 2)
        tmux.type("Add a task for the farewell.")
        screen = tmux.wait("Created task #2.")
        assert "task_create: " in screen and "turn: 30 tokens" in screen  # progress, then usage and cost
        # the model's words before its tool call are shown, before the final reply
        assert screen.index("I will add it.") < screen.index("task_create: ") < screen.index("Created task #2.")
        assert all(r.body.get("stream") is True for r in fake_api.message_requests)  # the REPL streams its turns
        wait_for(lambda: 2 in board(project).tasks, 30, what="task #2 on the board")
        tmux.wait(PROMPT, 3)
        # Ctrl-C while the model call is in flight cancels it; the session goes on
        tmux.type("Think hard about it.")
        wait_for(lambda: len(fake_api.message_requests) == 3, 30, what="the slow model call")
        tmux.keys("C-c")
        screen = tmux.wait("(cancelled; the session goes on)")
        tmux.wait(PROMPT, 4)
        release.set()
        tmux.type("Still there?")
        screen = tmux.wait("Here again.")
        assert "too late" not in screen
        tmux.type("/cost")
        screen = tmux.wait("models: claude-sonnet-5-5")
        tmux.type("/help")
        tmux.wait("/review")
        # Ctrl-D leaves cleanly
        tmux.wait(PROMPT, 7)
        tmux.keys("C-d")
        screen = tmux.wait("LEAD-EXITED-0")
        assert "Traceback" not in screen
    finally:
        release.set()
        tmux.close()
    # the cancelled prompt left the conversation valid: the last request answered every tool_use
    last = fake_api.message_requests[-1].body["messages"]
    assert [m["role"] for m in last][-1] == "user" and "Still there?" in str(last[-1])
    history = (project / ".git" / "gitboard" / "lead" / "history").read_text()
    assert "/tasks" in history and "Still there?" in history


def test_ctrl_c_at_an_empty_prompt_leaves(tmp_path: Path, fake_api: FakeMessagesAPI, gitboard_exe: Path) -> None:
    project = make_project(tmp_path)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in fake_api.env().items())
    tmux = Tmux(f"env {env} {shlex.quote(str(gitboard_exe))} lead; echo LEAD-EXITED-$?; sleep 60", project)
    try:
        tmux.wait(PROMPT)
        tmux.run("send-keys", "-t", "t", "-l", "half a thought")
        time.sleep(0.3)
        tmux.keys("C-c")  # with text typed: the line is dropped, the REPL stays
        tmux.wait(PROMPT, 2)
        assert "LEAD-EXITED" not in tmux.screen()
        tmux.keys("C-c")  # at an empty prompt: leave
        screen = tmux.wait("LEAD-EXITED-0")
        assert "Traceback" not in screen
    finally:
        tmux.close()
    assert fake_api.message_requests == []


def test_ctrl_c_during_a_bash_tool_call_kills_it_and_keeps_the_session(tmp_path: Path, fake_api: FakeMessagesAPI,
                                                                       gitboard_exe: Path) -> None:
    project = make_project(tmp_path)
    marker = tmp_path / "finished"
    fake_api.script(reply(tool_use("bash", {"command": f"sleep 30; touch {marker}"})),
                    reply(text("Noted the cancel.")))
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in fake_api.env().items())
    tmux = Tmux(f"env {env} {shlex.quote(str(gitboard_exe))} lead; echo LEAD-EXITED-$?; sleep 60", project)
    try:
        tmux.wait(PROMPT)
        tmux.type("Run the slow command.")
        tmux.wait("bash: sleep 30")
        started = time.monotonic()
        tmux.keys("C-c")
        tmux.wait("(cancelled; the session goes on)")
        assert time.monotonic() - started < 20  # not the 30 s of the command
        tmux.wait(PROMPT, 2)
        tmux.type("What happened?")
        tmux.wait("Noted the cancel.")
        tmux.keys("C-d")
        tmux.wait("LEAD-EXITED-0")
    finally:
        tmux.close()
    [result] = [b for b in fake_api.message_requests[-1].body["messages"][-1]["content"] if b.get("type") == "tool_result"]
    assert result["is_error"] is True and result["content"].startswith("Cancelled while it ran")
    time.sleep(0.5)
    assert not marker.exists()  # the command's process group was killed
