"""The REAL Claude Code as a teammate calls gitboard's MCP tools (``mcp__gitboard__<tool>``), driven
by the loopback Messages API: it messages the lead, submits a plan that the lead rejects with
feedback (which reaches it) and then approves, and completes its task. The board shows each step
with the teammate as the actor. Skipped, saying why, where Claude Code is not installed (see
tests/helpers/claude_code.py).

The scripted model decides from what Claude Code sends: the tools it offers and the tool_results
it gets back.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Callable

import pytest

from gitboard.client import BoardClient
from gitboard.mcp.catalog import TEAMMATE_TOOLS, claude_name
from gitboard.store.repo import BoardRepo
from gitboard.agents import registry as agents
from tests.helpers.claude_code import claude, claude_binary, claude_env, workdir
from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, reply, text, tool_use
from tests.helpers.runtime_helpers import add_tasks, board, git, make_project, teammate


def project(tmp_path, binary):
    path = make_project(tmp_path)
    git(path, "config", "gitboard.agent.claude.program", binary)
    return path


def run_alice(path, **kw):
    with BoardRepo(path) as r:
        agent = agents.make("claude", config=r.config)
    t, lines = teammate(path, "alice", agent=agent, idle_timeout=kw.pop("idle_timeout", 0.5), **kw)
    assert t.run() == 0
    return lines


def offered(rec: Recorded) -> list[str]:
    """The tool names Claude Code offers the model in this request."""
    return [t.get("name") for t in (rec.body or {}).get("tools") or []]


def results(rec: Recorded) -> list[str]:
    """The texts of every tool_result in the conversation, oldest first."""
    out = []
    for m in rec.messages:
        for b in m.get("content") if isinstance(m.get("content"), list) else []:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                c = b.get("content")
                out.append(c if isinstance(c, str) else "\n".join(x.get("text", "") for x in c or []
                                                                    if isinstance(x, dict)))
    return out


def actors(path, *greps: str) -> list[str]:
    """The Gitboard-Actor of the newest board commit whose subject matches each of ``greps``."""
    return [git(path, "log", "-1", "--format=%(trailers:key=Gitboard-Actor,valueonly)", f"--grep={g}",
                "gitboard").strip() for g in greps]


def script(steps: Callable[[Recorded, list[str]], dict]) -> Callable[[Recorded], dict]:
    """A handler: side requests without tools get a title; the rest go to ``steps(rec, results)``,
    after checking that gitboard's tools are offered directly (not behind a tool search)."""

    def handler(rec: Recorded) -> dict:
        if not (rec.body or {}).get("tools"):
            return reply(text("a title"))
        names = offered(rec)
        missing = [claude_name(n) for n in TEAMMATE_TOOLS if claude_name(n) not in names]
        if missing:
            return reply(text(f"gitboard tools missing: {missing}"))
        return steps(rec, results(rec))

    return handler


def test_claude_code_messages_the_lead_and_completes_its_task_through_gitboards_tools(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write hello.txt", "description": "hello.txt says hi"}])

    def steps(rec: Recorded, done: list[str]) -> dict:
        if len(done) == 0:
            return reply(tool_use(claude_name("send_message"), {"to": "lead", "content": "starting #1"}))
        if len(done) == 1:
            return reply(tool_use("Write", {"file_path": os.path.join(workdir(rec), "hello.txt"), "content": "hi\n"}))
        if len(done) == 2:
            return reply(tool_use(claude_name("done_task"), {"task_id": 1, "note": "wrote hello.txt"}))
        return reply(text("finished"))

    api.handler = script(steps)
    lines = run_alice(path)
    task = board(path).tasks[1]
    assert task.status == "completed", "\n".join(lines)
    # the message reached the lead, sent by alice through the MCP server
    lead = BoardClient(path)
    assert [(m.from_, m.content) for m in lead.peek()] == [("alice", "starting #1")]
    # the model got the tools' answers: the message sent, the task recorded for the harness
    last = [r for r in api.message_requests if (r.body or {}).get("tools")][-1]
    texts = results(last)  # Claude Code gives the model the structured content, as JSON
    assert json.loads(texts[0])["to"] == "lead" and json.loads(texts[0])["from"] == "alice"
    assert json.loads(texts[2])["recorded"] == "completed"
    # the done_task note is the result; the commit has the file; every step by alice
    assert task.result["summary"] == "wrote hello.txt" and task.result["note"] == "wrote hello.txt"
    assert git(path, "show", f"{task.result['commit']}:hello.txt") == "hi"
    assert actors(path, "send message", "claim #1", "done #1") == ["alice", "alice", "alice"], \
        git(path, "log", "--format=%s", "gitboard")
    # the prompt named the tools; Claude Code ran with them allowed and offered directly
    first = [r for r in api.message_requests if (r.body or {}).get("tools")][0]
    assert claude_name("submit_plan") in first.all_text()
    assert not any("ToolSearch" in n for n in offered(first))
    log = "\n".join(lines)
    assert "--mcp-config" in log and "--allowedTools" in log and claude_name("done_task") in log


def test_plan_first_a_rejection_reaches_claude_code_which_resubmits_and_works_once_approved(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write notes.txt"}])
    lead = BoardClient(path)

    def steps(rec: Recorded, done: list[str]) -> dict:
        if not done:
            return reply(tool_use(claude_name("submit_plan"), {"plan": "1. write notes.txt", "timeout": 60}))
        try:
            last = json.loads(done[-1])
        except ValueError:
            last = {}
        if last.get("status") == "rejected":
            return reply(tool_use(claude_name("submit_plan"),
                                  {"plan": f"1. write notes.txt\n2. {last['feedback']}", "timeout": 60}))
        if last.get("status") == "approved":
            return reply(tool_use("Write", {"file_path": os.path.join(workdir(rec), "notes.txt"),
                                            "content": "notes\n"}))
        if len(done) == 3:
            return reply(tool_use(claude_name("done_task"), {"task_id": 1, "note": "notes written"}))
        return reply(text("finished"))

    api.handler = script(steps)
    plans: list[dict] = []

    def answer() -> None:  # the lead: reject the first plan with feedback, approve the next
        for approve, feedback in ((False, "also add a title line"), (True, "")):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                pending = lead.pending_plans()
                if pending:
                    plans.append(pending[0].to_json())
                    lead.respond_plan(pending[0].request_id, approve, feedback)
                    break
                time.sleep(0.1)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    lines = run_alice(path, plan_first=True)
    thread.join(5)
    task = board(path).tasks[1]
    assert task.status == "completed", "\n".join(lines)
    assert [p["plan"] for p in plans] == ["1. write notes.txt", "1. write notes.txt\n2. also add a title line"]
    assert all(p["from"] == "alice" for p in plans)
    with BoardRepo(path) as r:
        from gitboard.board.request import requests_of
        from gitboard.store.read import read_board

        reqs = {q.request_id: q for q in requests_of(read_board(r), "plan")}
    assert len(reqs) == 2, "\n".join(lines)  # the answers reached the agent: no session of their own
    answered = [reqs[p["request_id"]] for p in plans]
    assert [(q.status, q.feedback) for q in answered] == [("rejected", "also add a title line"), ("approved", "")]
    assert task.result["plan_request"] == plans[1]["request_id"]
    assert git(path, "show", f"{task.result['commit']}:notes.txt") == "notes"
    subjects = git(path, "log", "--format=%s|%(trailers:key=Gitboard-Actor,valueonly,separator=)", "gitboard")
    plan_lines = [ln for ln in subjects.splitlines() if "plan" in ln.split("|")[0]]
    assert sum(ln.endswith("|alice") for ln in plan_lines) == 2  # both submissions by alice
    assert sum(ln.endswith("|lead") for ln in plan_lines) == 2  # both answers by the lead
    # the prompt asked for a plan first
    first = [r for r in api.message_requests if (r.body or {}).get("tools")][0]
    assert "PLAN FIRST" in first.all_text()


def test_plan_first_work_without_an_approved_plan_fails_the_task(tmp_path, claude):
    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write x.txt"}])

    def steps(rec: Recorded, done: list[str]) -> dict:
        if not done:
            return reply(tool_use("Write", {"file_path": os.path.join(workdir(rec), "x.txt"), "content": "x\n"}))
        return reply(text("done without asking"))

    api.handler = script(steps)
    lines = run_alice(path, plan_first=True)
    task = board(path).tasks[1]
    assert task.status == "failed", "\n".join(lines)
    assert task.result["reason"].startswith("plan first: the work ended without a plan the lead approved")


def test_interactive_use_claude_mcp_add_then_a_session_claims_and_finishes_a_task(tmp_path, claude, repo,
                                                                                  gitboard_exe):
    """``claude mcp add gitboard -- gitboard mcp --as alice`` as the guide says: Claude Code lists the
    server as connected, and a session in that project (no --mcp-config) claims the next task and
    marks it done through it, as alice."""
    binary, api = claude
    BoardClient(repo).add_task("Interactive task")

    def claude_cmd(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        env = {**os.environ, "ENABLE_TOOL_SEARCH": "false", "MCP_CONNECTION_NONBLOCKING": "false"}
        return subprocess.run([binary, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    added = claude_cmd("mcp", "add", "gitboard", "--", str(gitboard_exe), "mcp", "--as", "alice")
    assert added.returncode == 0, added.stderr
    listed = claude_cmd("mcp", "list")
    assert "gitboard:" in listed.stdout and "Connected" in listed.stdout, listed.stdout + listed.stderr
    got = claude_cmd("mcp", "get", "gitboard")
    assert "Connected" in got.stdout and "Args: mcp --as alice" in got.stdout, got.stdout

    def steps(rec: Recorded, done: list[str]) -> dict:
        if not done:
            return reply(tool_use(claude_name("claim_task"), {}))
        if len(done) == 1:
            task_id = json.loads(done[0])["id"]
            return reply(tool_use(claude_name("done_task"), {"task_id": task_id, "note": "done interactively"}))
        return reply(text("Claimed and finished."))

    api.handler = script(steps)
    run = claude_cmd("-p", "Claim the next task on the board and finish it.", "--output-format", "json",
                     "--allowedTools", "mcp__gitboard", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    task = board(repo).tasks[1]
    assert (task.status, task.owner, task.result) == ("completed", "alice", {"note": "done interactively"})
    assert actors(repo, "claim #1", "done #1") == ["alice", "alice"]


@pytest.mark.slow
def test_spawn_plan_first_as_a_user_would(tmp_path, claude, gitboard_exe):
    """``gitboard spawn alice --agent claude --plan-first``: the detached teammate's Claude Code
    submits a plan; the lead approves it with ``gitboard plan approve``; the task completes."""
    from tests.helpers.runtime_helpers import Spawner, log_of, wait_for

    binary, api = claude
    path = project(tmp_path, binary)
    add_tasks(path, [{"subject": "Write plan.txt"}])

    def steps(rec: Recorded, done: list[str]) -> dict:
        if not done:
            return reply(tool_use(claude_name("submit_plan"), {"plan": "write plan.txt", "timeout": 120}))
        if len(done) == 1 and json.loads(done[0]).get("status") == "approved":
            return reply(tool_use("Write", {"file_path": os.path.join(workdir(rec), "plan.txt"), "content": "p\n"}))
        return reply(text("finished"))

    api.handler = script(steps)
    spawner = Spawner(gitboard_exe)
    try:
        spawner.spawn(path, "alice", "--agent", "claude", "--plan-first", "--poll", "0.2", "--idle-timeout", "3")
        pending = wait_for(lambda: BoardClient(path).pending_plans(), 90, what="alice's plan")
        approved = subprocess.run([str(gitboard_exe), "plan", "approve", pending[0].request_id[:8]], cwd=path,
                                  capture_output=True, text=True, timeout=60)
        assert approved.returncode == 0, approved.stderr
        wait_for(lambda: board(path).tasks[1].status in ("completed", "failed"), 90, what="alice to finish #1")
    finally:
        spawner.cleanup()
    task = board(path).tasks[1]
    assert task.status == "completed", log_of(path, "alice")
    assert git(path, "show", f"{task.result['commit']}:plan.txt") == "p"
    assert task.result["plan_request"] == pending[0].request_id
    first = [r for r in api.message_requests if (r.body or {}).get("tools")][0]
    assert "PLAN FIRST" in first.all_text()  # --plan-first went from spawn to the teammate's prompt
