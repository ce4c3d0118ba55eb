"""``gitboard cost`` and ``watch --json`` over what real teammates record: an anthropic teammate
(real SDK, loopback Messages API) and a shell teammate, spawned as processes."""

from __future__ import annotations

import pytest

from gitboard.proc import pid_alive
from tests.cli.helpers import ok
from tests.helpers.fake_messages_api import anthropic_env, fake_api, reply, text, tool_use  # noqa: F401  (fixtures)
from tests.helpers.runtime_helpers import Spawner, add_tasks, board, log_of, make_project, wait_for

pytestmark = pytest.mark.slow

MODEL = "claude-sonnet-5-5"  # $2 in, $10 out, $2.50 cache write, $0.10 cache read per MTok


def test_cost_sums_an_anthropic_teammates_usage_and_leaves_the_shell_task_out(tmp_path, fake_api, gitboard_exe,
                                                                               run_gitboard):
    project = make_project(tmp_path)
    add_tasks(project, [{"subject": "Write the greeting"}, {"subject": "Count", "run": "echo 3 > n.txt", "role": "shell"}])
    fake_api.script(
        reply(tool_use("write_file", {"path": "hello.txt", "content": "hello\n"}),
              usage={"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 2000}),
        reply(text("Wrote hello.txt."), usage={"input_tokens": 10, "output_tokens": 50,
                                              "cache_read_input_tokens": 3000}),
    )
    spawner = Spawner(gitboard_exe)
    try:
        alice = spawner.spawn(project, "alice", "--agent", "anthropic", "--model", MODEL, "--poll", "0.2",
                              "--idle-timeout", "2", "--lease", "30", env=fake_api.env())
        wait_for(lambda: board(project).tasks[1].status == "completed", 90, what="alice to finish #1")
        bob = spawner.spawn(project, "bob", "--agent", "shell", "--role", "shell", "--poll", "0.2", "--idle-timeout", "2")
        wait_for(lambda: not pid_alive(alice) and not pid_alive(bob), 90, what="both to finish and shut down")
    finally:
        spawner.cleanup()
    tasks = board(project).tasks
    assert tasks[1].status == "completed" and tasks[2].status == "completed", log_of(project, "alice")
    assert (tasks[1].owner, tasks[2].owner) == ("alice", "bob")
    recorded = tasks[1].result
    assert recorded["usage"]["input_tokens"] >= 1010 and recorded["usage"]["cache_read_input_tokens"] == 3000
    assert recorded["cost_usd"] >= (1010 * 2 + 150 * 10 + 2000 * 2.5 + 3000 * 0.1) / 1e6  # the scripted turns, priced
    doc = ok(run_gitboard(["cost", "--by", "teammate", "--json"], cwd=project)).json()
    assert [g["key"] for g in doc["groups"]] == ["alice"]             # the shell task records nothing
    assert doc["total"]["usage"] == recorded["usage"] and doc["total"]["unpriced"] == 0
    assert doc["total"]["cost_usd"] == pytest.approx(recorded["cost_usd"])
    by_model = ok(run_gitboard(["cost", "--by", "model", "--json"], cwd=project)).json()["groups"]
    assert [(g["key"], g["tasks"]) for g in by_model] == [(MODEL, 1)]
    watched = ok(run_gitboard(["watch", "--once", "--json"], cwd=project)).json()
    assert watched["total"] == doc["total"]
    assert {m["name"]: m["status"] for m in watched["teammates"]} == {"alice": "shutdown", "bob": "shutdown"}
    assert all(m["last_line"] for m in watched["teammates"])          # each one's log in this clone
