"""``--agent codex`` with the REAL Codex CLI (npm @openai/codex) against a loopback Responses API.

Skipped, with the reason, where the binary is missing: ``.ci/run`` installs it into
``.ci-node/`` and exports ``TEST_CODEX_BIN``; developers set that to their own install.
"""

from __future__ import annotations

import re


from gitboard.store.repo import BoardRepo
from gitboard.agents import registry as agents
from tests.helpers.npm_binaries import npm_binary
from tests.helpers.fake_responses_api import FakeResponsesAPI, exec_command, message, tool_outputs, usage
from tests.helpers.runtime_helpers import add_tasks, board, git, make_project, teammate

ENV_VAR = "TEST_CODEX_BIN"  # not GITBOARD_*: tests/conftest.py clears those


def codex_binary() -> str:
    """Return the path of the Codex CLI binary, or skip the test saying why there is none."""
    return npm_binary(ENV_VAR, "codex", "@openai/codex", "Codex")


def run_codex_task(tmp_path, monkeypatch, handler):
    binary = codex_binary()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    with FakeResponsesAPI(handler) as api:
        path = make_project(tmp_path)
        git(path, "config", "gitboard.agent.codex.program", binary)
        git(path, "config", "gitboard.agent.codex.extra-args", api.provider_args())
        add_tasks(path, [{"subject": "Write hello.txt"}])
        with BoardRepo(path) as r:
            agent = agents.make("codex", config=r.config)
        t, lines = teammate(path, "alice", agent=agent, idle_timeout=0.5)
        assert t.run() == 0
        return path, board(path).tasks[1], lines, api


def test_codex_completes_a_task_with_its_usage_summary_and_thread(tmp_path, monkeypatch):
    def handler(body):
        if tool_outputs(body):
            return [message("Wrote hello.txt.")], usage(150, 12, cached=100)
        return [exec_command("printf 'hi\\n' > hello.txt")], usage(120, 8)

    path, task, lines, api = run_codex_task(tmp_path, monkeypatch, handler)
    assert task.status == "completed", "\n".join(lines)
    res = task.result
    assert res["summary"] == "Wrote hello.txt." and res["agent"] == "codex" and res["num_turns"] == 1
    # codex sums the turn's requests: 270 input (100 of them cached), 20 output
    assert res["usage"] == {"input_tokens": 170, "output_tokens": 20, "cache_read_input_tokens": 100,
                            "cache_creation_input_tokens": 0}
    assert res["cost_usd"] is None  # codex reports no cost, and gpt-test has no price
    assert re.fullmatch(r"[0-9a-f-]{36}", res["session_id"])
    assert git(path, "show", f"{res['commit']}:hello.txt") == "hi"
    assert any("codex: ran" in ln and "hello.txt" in ln for ln in lines)
    assert api.requests[0]["stream"] is True


def test_a_failed_codex_turn_fails_the_task_with_its_message(tmp_path, monkeypatch):
    path, task, lines, api = run_codex_task(tmp_path, monkeypatch,
                                            lambda body: (400, "the fake provider refuses this request"))
    assert task.status == "failed", "\n".join(lines)
    assert task.result["reason"].startswith("codex: ") and "the fake provider refuses this request" in task.result["reason"]
