"""The agent registry and CLI profiles (presets.py), and reading CLI output (cli_output.py).

The Claude Code reader is also exercised end to end against the real CLI in
test_claude_preset.py; codex and aider are read here from lines in their documented formats.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from gitboard.board.errors import Invalid
from gitboard.agents import registry as agents, presets
from gitboard.agents.agent_cli import CliAgent
from gitboard.agents.output import reader
from tests.helpers.fake_port import make_ctx, make_task
from tests.helpers.runtime_helpers import git

VALUES = {"worktree": "/w", "prompt": "P", "prompt_file": "/s/prompt.md", "scratch": "/s"}


def test_every_name_is_in_the_registry_and_unknown_names_are_refused():
    assert presets.names() == ["anthropic", "shell", "exec", "claude", "codex", "aider"]
    assert agents.choose("claude", env={}) == ("claude", None)
    assert isinstance(agents.make("claude"), CliAgent) and agents.make("codex").name == "codex"
    with pytest.raises(Invalid, match="unknown agent 'gpt'.*claude, codex, aider"):
        agents.choose("gpt", env={})
    with pytest.raises(Invalid, match="--agent-cmd is for --agent exec"):
        agents.choose("claude", "x", env={})


def test_claude_preset_command_line():
    prof = presets.profile("claude")
    assert prof.argv(VALUES) == ["claude", "-p", "--output-format", "stream-json", "--verbose",
                                 "--permission-mode", "acceptEdits"]
    argv = prof.argv(VALUES, session_id="abc", budget_usd=0.5, model="claude-sonnet-4-5")
    assert argv[-6:] == ["--model", "claude-sonnet-4-5", "--max-budget-usd", "0.5", "--resume", "abc"]


def test_codex_and_aider_preset_command_lines():
    assert presets.profile("codex").argv(VALUES, session_id="th_1") == [
        "codex", "exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check", "--cd", "/w",
        "resume", "th_1", "-"]
    aider = presets.profile("aider").argv(VALUES)
    assert aider[:3] == ["aider", "--message-file", "/s/prompt.md"] and "--yes-always" in aider
    assert "--no-auto-commits" in aider and "/s/aider.chat.history.md" in aider  # its files stay out of the worktree


def test_git_config_overrides_a_preset_and_adds_a_profile():
    config = {"gitboard.agent.claude.program": "/opt/cc/bin/claude",
              "gitboard.agent.claude.permission-mode": "bypassPermissions",
              "gitboard.agent.claude.extra-args": "--effort low",
              "gitboard.agent.mine.program": "my-agent --flag",
              "gitboard.agent.mine.args": "--in {prompt_file} --cwd {worktree}",
              "gitboard.agent.mine.prompt": "file"}
    claude = presets.profile("claude", config).argv(VALUES)
    assert claude == ["/opt/cc/bin/claude", "-p", "--output-format", "stream-json", "--verbose",
                      "--permission-mode", "bypassPermissions", "--effort", "low"]
    assert presets.names(config)[-1] == "mine"
    assert agents.choose("mine", env={}, config=config) == ("mine", None)
    assert presets.profile("mine", config).argv(VALUES) == ["my-agent", "--flag", "--in", "/s/prompt.md", "--cwd", "/w"]
    # braces that are not placeholders (a TOML table for codex -c) pass through
    toml = {"gitboard.agent.codex.extra-args": "-c 'p={name=\"x\", url=\"{worktree}\"}'"}
    assert presets.profile("codex", toml).argv(VALUES)[7:10] == ["/w", "-c", 'p={name="x", url="/w"}']


@pytest.mark.parametrize("config, message", [
    ({"gitboard.agent.claude.permission-mode": "yolo"}, "permission-mode must be one of acceptEdits"),
    ({"gitboard.agent.claude.output": "xml"}, "output must be one of claude, codex, aider, text"),
    ({"gitboard.agent.claude.args": "'unbalanced"}, "No closing quotation"),
    ({"gitboard.agent.new.prompt": "file"}, "unknown agent 'new'"),
    ({"gitboard.agent.new.program": "x", "gitboard.agent.new.prompt": "file"}, "needs {prompt_file} or {prompt}"),
])
def test_bad_profile_config_is_one_clear_error(config, message):
    name = "new" if any(k.startswith("gitboard.agent.new.") for k in config) else "claude"
    with pytest.raises(Invalid, match=message):
        agents.choose(name, env={}, config=config)


def test_bad_profile_config_is_refused_by_spawn_before_anything_starts(repo, run_cli, git):
    git(repo, "config", "gitboard.agent.claude.permission-mode", "yolo")
    res = run_cli(["spawn", "alice", "--agent", "claude"], cwd=repo)
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: ") and "permission-mode" in res.stderr
    assert run_cli(["team", "--json"], cwd=repo).json()["members"] == []


def test_codex_json_lines_are_read():
    r = reader("codex")
    lines = [{"type": "thread.started", "thread_id": "th_42"}, {"type": "turn.started"},
             {"type": "item.started", "item": {"id": "i1", "type": "command_execution", "command": "ls"}},
             {"type": "item.completed", "item": {"id": "i1", "type": "command_execution", "command": "ls",
                                                 "exit_code": 0}},
             {"type": "item.completed", "item": {"id": "i2", "type": "agent_message", "text": "Added hello.txt."}},
             {"type": "turn.completed", "usage": {"input_tokens": 1200, "cached_input_tokens": 1000,
                                                  "output_tokens": 80}}]
    shown = [ln for event in lines for ln in r.feed(json.dumps(event) + "\n")]
    rep = r.finish()
    assert rep.session_id == "th_42" and rep.summary == "Added hello.txt." and rep.num_turns == 1
    assert rep.usage.to_json() == {"input_tokens": 200, "output_tokens": 80, "cache_read_input_tokens": 1000,
                                   "cache_creation_input_tokens": 0}
    assert rep.cost_usd is None and not rep.error and any("ran ls" in s for s in shown)
    failed = reader("codex")
    failed.feed(json.dumps({"type": "turn.failed", "error": {"message": "stream disconnected"}}))
    assert failed.finish().error == "stream disconnected"
    # codex-cli prints its retries as error events: only one that no completed turn follows counts
    retried = reader("codex")
    for event in ({"type": "error", "message": "Reconnecting... 2/5 (stream disconnected)"},
                  {"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 1}}):
        retried.feed(json.dumps(event))
    assert retried.finish().error == ""
    gave_up = reader("codex")
    gave_up.feed(json.dumps({"type": "error", "message": "Reconnecting... 5/5 (Connection failed)"}))
    assert gave_up.finish().error == "Reconnecting... 5/5 (Connection failed)"


def test_aider_token_and_cost_lines_are_read():
    r = reader("aider")
    for line in ["Main model: claude-sonnet-4-5 with diff edit format", "Applied edit to hello.txt",
                 "Tokens: 2.4k sent, 1.1k cache write, 227 received. Cost: $0.01 message, $0.01 session.",
                 "Tokens: 3.0k sent, 2.0k cache hit, 100 received. Cost: $0.004 message, $0.014 session."]:
        r.feed(line + "\n")
    rep = r.finish()
    assert rep.usage.to_json() == {"input_tokens": 1300 + 1000, "output_tokens": 327,
                                   "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 1100}
    assert rep.cost_usd == 0.014 and rep.models == ["claude-sonnet-4-5"] and rep.num_turns == 2
    assert "Applied edit to hello.txt" in rep.summary


def test_claude_stream_usage_is_counted_once_per_message_id():
    r = reader("claude")
    block = {"type": "assistant", "message": {"id": "msg_1", "model": "claude-x", "usage": {
        "input_tokens": 100, "output_tokens": 1}, "content": [{"type": "text", "text": "a"}]}}
    r.feed(json.dumps(block))
    r.feed(json.dumps(block))  # a second content block of the same API message
    assert r.report.tokens == 101


def fake_cli(tmp_path, body: str):
    """An executable script standing in for an agent CLI."""
    path = tmp_path / "fake-cli"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_non_zero_exit_of_a_cli_fails_with_its_output(tmp_path):
    wt, state = tmp_path / "wt", tmp_path / "state"
    wt.mkdir(), state.mkdir()
    git(wt, "init", "-q")
    prof = presets.profile("x", {"gitboard.agent.x.program": fake_cli(tmp_path, "echo 'quota exceeded' >&2; exit 7")})
    out = CliAgent(prof).run(make_ctx(wt, state, task=make_task(), poll=0.1))
    assert not out.ok and out.reason == "x exit 7: quota exceeded" and out.details["exit_code"] == 7


def test_a_cli_that_is_not_installed_fails_with_a_hint(tmp_path):
    wt, state = tmp_path / "wt", tmp_path / "state"
    wt.mkdir(), state.mkdir()
    git(wt, "init", "-q")
    prof = presets.profile("claude", {"gitboard.agent.claude.program": str(tmp_path / "nowhere" / "claude")})
    out = CliAgent(prof).run(make_ctx(wt, state, task=make_task(), poll=0.1))
    assert not out.ok and "cannot start" in out.reason and "gitboard.agent.claude.program" in out.reason
    assert not os.path.exists(wt / "prompt.md")


def test_spawn_refuses_a_cli_agent_that_is_not_installed(repo, run_cli, git, tmp_path):
    git(repo, "config", "gitboard.agent.claude.program", str(tmp_path / "no" / "claude"))
    for cmd in ("spawn", "work"):
        res = run_cli([cmd, "alice", "--agent", "claude"], cwd=repo)
        assert res.exit_code == 2 and "is not installed here" in res.stderr and "gitboard.agent.claude.program" in res.stderr
    assert run_cli(["team", "--json"], cwd=repo).json()["members"] == []
