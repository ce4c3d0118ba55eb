"""``--plan-first``: the anthropic agent may not change anything before the lead approves a plan;
agents that cannot submit a plan are refused by ``spawn`` and ``work``. (Claude Code through
gitboard's MCP server: tests/mcp/test_claude_code_mcp.py.)"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from gitboard.agents.anthropic import AnthropicAgent
from tests.helpers.fake_messages_api import FakeMessagesAPI, reply, text, tool_use
from tests.helpers.fake_port import FakePort, make_ctx


class PlanPort(FakePort):
    """A FakePort whose plan answers come from a queue, one per submission."""

    answers: deque

    def submit_plan(self, plan: str, timeout: float) -> dict:
        self.plans.append((plan, timeout))
        return self.answers.popleft()


@pytest.mark.usefixtures("anthropic_env")
def test_the_anthropic_agent_changes_nothing_until_a_plan_is_approved(fake_api: FakeMessagesAPI, git_repo: Path,
                                                                      tmp_path: Path) -> None:
    (git_repo / "README").write_text("read me\n")
    port = PlanPort()
    port.answers = deque([{"request_id": "p1", "status": "rejected", "feedback": "name it b.txt"},
                          {"request_id": "p2", "status": "approved", "feedback": ""}])
    fake_api.script(
        reply(tool_use("write_file", {"path": "a.txt", "content": "a\n"})),
        reply(tool_use("bash", {"command": "touch c.txt"}), tool_use("read_file", {"path": "README"})),
        reply(tool_use("plan_approval", {"plan": "write a.txt"})),
        reply(tool_use("edit_file", {"path": "a.txt", "old_text": "a", "new_text": "b"})),
        reply(tool_use("plan_approval", {"plan": "write b.txt"})),
        reply(tool_use("write_file", {"path": "b.txt", "content": "b\n"})),
        reply(text("done")),
    )
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "state", port, plan_first=True))
    assert out.ok
    reqs = fake_api.message_requests
    assert "PLAN FIRST" in reqs[0].body["system"][0]["text"]
    refused = reqs[1].tool_results[0]
    assert refused["is_error"] and "plan first" in refused["content"]
    bash, read = reqs[2].tool_results
    assert bash["is_error"] and not read.get("is_error") and "read me" in read["content"]
    assert "Plan rejected" in reqs[3].tool_results[0]["content"] and "name it b.txt" in reqs[3].tool_results[0]["content"]
    assert reqs[4].tool_results[0]["is_error"]  # still no approved plan
    assert reqs[6].tool_results[0].get("is_error") is not True
    assert [p for p, _ in port.plans] == ["write a.txt", "write b.txt"]
    assert sorted(p.name for p in git_repo.iterdir() if not p.name.startswith(".")) == ["README", "b.txt"]


def test_without_plan_first_nothing_is_refused(fake_api: FakeMessagesAPI, git_repo: Path, tmp_path: Path,
                                               anthropic_env) -> None:
    fake_api.script(reply(tool_use("write_file", {"path": "a.txt", "content": "a\n"})), reply(text("done")))
    out = AnthropicAgent(max_retries=1).run(make_ctx(git_repo, tmp_path / "state", FakePort()))
    assert out.ok and (git_repo / "a.txt").read_text() == "a\n"
    assert "PLAN FIRST" not in fake_api.message_requests[0].body["system"][0]["text"]


@pytest.mark.parametrize("command", ["spawn", "work"])
def test_agents_that_cannot_submit_a_plan_are_refused(repo: Path, run_cli, command: str, git) -> None:
    git(repo, "config", "gitboard.agent.aider.program", "/bin/true")
    for agent in ("shell", "aider"):
        res = run_cli([command, "alice", "--agent", agent, "--plan-first"], cwd=repo)
        assert res.exit_code == 2, res.stderr
        assert res.stderr == (f"gitboard: error: --plan-first needs an agent that can submit a plan: anthropic, or "
                              f"an agent CLI with gitboard's MCP server (claude, codex); not {agent}\n")
