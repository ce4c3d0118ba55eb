"""The shell and exec agents, and choosing an agent (no model, no network)."""

from __future__ import annotations

import time
from collections import deque

import pytest

from gitboard.board.errors import Invalid
from gitboard.agents import registry as agents
from gitboard.agents.exec import ExecAgent
from gitboard.agents.shell import ShellAgent
from tests.helpers.fake_port import FakePort, make_ctx, make_task


@pytest.fixture
def dirs(tmp_path):
    wt, state = tmp_path / "wt", tmp_path / "state"
    wt.mkdir()
    state.mkdir()
    return wt, state


def test_shell_agent_accepts_only_tasks_with_run():
    shell = ShellAgent()
    assert shell.accepts(make_task(run="true")) and not shell.accepts(make_task(run=None))


def test_shell_exit_zero_completes(dirs):
    wt, state = dirs
    ctx = make_ctx(wt, state, task=make_task(run='echo "$GITBOARD_ACTOR on $GITBOARD_TASK" > out.txt; echo hi'),
                   env={"GITBOARD_ACTOR": "alice", "GITBOARD_TASK": "1"}, poll=0.1)
    out = ShellAgent().run(ctx)
    assert out.ok and out.summary.endswith(": hi")
    assert (wt / "out.txt").read_text() == "alice on 1\n"
    assert any(line.startswith("run: echo") for line in ctx.port.logs) and "| hi" in ctx.port.logs


def test_shell_nonzero_exit_fails_with_code_and_tail(dirs):
    wt, state = dirs
    run = "for i in $(seq 1 300); do echo line $i; done; echo broken >&2; exit 3"
    out = ShellAgent().run(make_ctx(wt, state, task=make_task(run=run), poll=0.1))
    assert not out.ok and out.details["exit_code"] == 3
    assert out.details["output_tail"].endswith("line 300\nbroken\n")
    assert len(out.details["output_tail"]) <= 2000 and "line 1\n" not in out.details["output_tail"]
    assert "exit 3" in out.reason and "broken" in out.reason


def test_shell_timeout_stops_the_command_group(dirs, monkeypatch):
    wt, state = dirs
    monkeypatch.setenv("GITBOARD_COMMAND_TIMEOUT", "0.5")
    started = time.monotonic()
    out = ShellAgent().run(make_ctx(wt, state, task=make_task(run="sleep 30 & sleep 30; echo never"), poll=0.1))
    assert not out.ok and "timed out" in out.reason and time.monotonic() - started < 10


def test_shutdown_request_while_the_command_runs_is_approved_and_stops_it(dirs):
    wt, state = dirs
    port = FakePort(inbox=deque([[], [{"id": "m1", "type": "shutdown_request", "from": "lead", "to": "alice",
                                       "content": "stop", "request_id": "r1"}]]))
    started = time.monotonic()
    out = ShellAgent().run(make_ctx(wt, state, port=port, task=make_task(run="sleep 30"), poll=0.1))
    assert out.shutdown and not out.ok and time.monotonic() - started < 10
    assert port.shutdown_answers == [("r1", True, "stopping my command and releasing the task")]


def test_exec_agent_gets_the_prompt_on_stdin_and_env(dirs):
    wt, state = dirs
    ctx = make_ctx(wt, state, task=make_task(7, "Fix the parser", "It breaks on empty input."), prompt="Be brief.",
                   env={"GITBOARD_ACTOR": "alice", "GITBOARD_TASK": "7"}, poll=0.1,
                   messages=[{"from": "lead", "type": "message", "content": "use tabs"}])
    out = ExecAgent('cat > prompt.txt; echo "$GITBOARD_ACTOR/$GITBOARD_TASK" > env.txt; echo all done').run(ctx)
    assert out.ok and out.summary == "all done"
    prompt = (wt / "prompt.txt").read_text()
    assert "You are alice" in prompt and "#7: Fix the parser" in prompt and "It breaks on empty input." in prompt
    assert "Be brief." in prompt and "use tabs" in prompt and "Do not commit" in prompt
    assert (wt / "env.txt").read_text() == "alice/7\n"


def test_exec_agent_nonzero_exit_fails(dirs):
    wt, state = dirs
    out = ExecAgent("cat >/dev/null; echo nope; exit 2").run(make_ctx(wt, state, poll=0.1))
    assert not out.ok and out.details["exit_code"] == 2 and "nope" in out.reason


def test_choose_defaults_and_refusals():
    assert agents.choose(None, env={}) == ("shell", agents.choose(None, env={})[1])
    assert "shell agent" in agents.choose(None, env={})[1]
    assert agents.choose(None, env={"ANTHROPIC_API_KEY": "k"}) == ("anthropic", None)
    assert agents.choose(None, env={"ANTHROPIC_AUTH_TOKEN": "t"}) == ("anthropic", None)
    assert agents.choose("exec", "claude -p", env={}) == ("exec", None)
    assert agents.choose(None, "claude -p", env={}) == ("exec", None)
    with pytest.raises(Invalid, match="--agent shell.*--agent exec"):
        agents.choose("anthropic", env={})
    with pytest.raises(Invalid, match="--agent-cmd"):
        agents.choose("exec", env={})
    with pytest.raises(Invalid, match="unknown agent"):
        agents.choose("gpt", env={})
    with pytest.raises(Invalid, match="--agent-cmd is for --agent exec"):
        agents.choose("shell", "x", env={})


def test_making_shell_and_exec_does_not_import_the_sdk():
    import subprocess
    import sys

    code = ("import sys; from gitboard.agents import registry as agents; agents.make('shell'); agents.make('exec', 'true');"
            "import gitboard.cli.main, gitboard.runtime.loop, gitboard.cli.demo; print('anthropic' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
