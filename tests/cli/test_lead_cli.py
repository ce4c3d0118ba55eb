"""``gitboard lead`` as a program: one-shot -p, --json, --resume, no key, and the lead spawning a real
teammate that does the task, against the loopback Messages API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitboard.proc import end_process_group, pid_alive
from gitboard.llm.conversation import MAX_RETRIES
from tests.helpers.fake_messages_api import FakeMessagesAPI, error, fake_api, reply, routed, text, tool_use  # noqa: F401
from tests.helpers.runtime_helpers import board, git, make_project, wait_for

LEAD = "You are 'lead'"
ALICE = "You are 'alice'"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_no_key_exits_2_naming_the_variable(project: Path, run_gitboard) -> None:
    res = run_gitboard(["lead", "-p", "hello"], cwd=project)
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "gitboard: error: gitboard lead needs an API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN)"]


def test_one_shot_json_and_exit_codes(project: Path, run_gitboard, fake_api: FakeMessagesAPI) -> None:
    fake_api.script(reply(tool_use("task_list", {})), reply(text("The board is empty.")))
    res = run_gitboard(["lead", "-p", "What is on the board?", "--json", "--model", "claude-sonnet-5-5"],
                       cwd=project, env=fake_api.env())
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc == {"text": "The board is empty.",
                   "tool_calls": [{"name": "task_list", "input": {}, "is_error": False}],
                   "usage": {"input_tokens": 20, "output_tokens": 10, "cache_read_input_tokens": 0,
                             "cache_creation_input_tokens": 0},
                   "cost_usd": pytest.approx((20 * 2 + 10 * 10) / 1e6)}
    # an API error that outlives the SDK's retries: exit 1, one error line
    fake_api.script(error(500, "the model is down", times=MAX_RETRIES + 1))  # the first try and every retry
    res = run_gitboard(["lead", "-p", "again", "--resume"], cwd=project, env=fake_api.env())
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1].startswith("gitboard: error: API error: InternalServerError 500")
    # plain -p prints the final text; --resume continued the saved conversation
    fake_api.script(reply(text("Still here.")))
    res = run_gitboard(["lead", "-p", "once more", "--resume"], cwd=project, env=fake_api.env())
    assert res.exit_code == 0 and res.stdout == "Still here.\n"
    last = fake_api.message_requests[-1].body["messages"]
    assert "What is on the board?" in json.dumps(last[0]) and "once more" in json.dumps(last[-1])
    res = run_gitboard(["lead", "--json"], cwd=project, env=fake_api.env())
    assert res.exit_code == 2 and "--json needs -p" in res.stderr


def test_resume_without_a_saved_conversation_is_one_error_line(project: Path, run_gitboard,
                                                               fake_api: FakeMessagesAPI) -> None:
    res = run_gitboard(["lead", "-p", "hi", "--resume"], cwd=project, env=fake_api.env())
    assert res.exit_code == 2 and res.stderr.startswith("gitboard: error: no saved lead conversation to resume")
    assert fake_api.message_requests == []


@pytest.mark.slow
def test_the_lead_creates_a_task_and_spawns_alice_who_completes_it(project: Path, run_gitboard,
                                                                   fake_api: FakeMessagesAPI) -> None:
    fake_api.handler = routed({
        LEAD: [reply(tool_use("task_create", {"subject": "Write hello.txt",
                                              "description": "Create hello.txt containing hello."})),
               reply(tool_use("spawn_teammate", {"name": "alice", "role": "dev", "prompt": "Keep it short."})),
               reply(text("Created task #1 and spawned alice to do it."))],
        ALICE: [reply(tool_use("bash", {"command": "echo key=${ANTHROPIC_API_KEY:-none}"})),
                reply(tool_use("write_file", {"path": "hello.txt", "content": "hello\n"})),
                reply(text("Wrote hello.txt."))],
    })
    pid = None
    try:
        res = run_gitboard(["lead", "-p", "Create a task to write hello.txt and spawn alice to do it."],
                           cwd=project, env=fake_api.env())
        assert res.exit_code == 0, res.stderr
        assert res.stdout == "Created task #1 and spawned alice to do it.\n"
        member = board(project).team.member("alice")
        pid = member.pid
        wait_for(lambda: board(project).tasks[1].status == "completed", 90, what="alice to complete #1")
    finally:
        if pid and pid_alive(pid):
            end_process_group(pid, grace=5)
    [add] = [m for m in git(project, "log", "--format=%B%x00", "gitboard").split("\0")
             if "Gitboard-Action: add\n" in m]
    assert add.strip().startswith("add #1 by lead: Write hello.txt") and "Gitboard-Actor: lead" in add
    task = board(project).tasks[1]
    assert task.owner == "alice" and task.result["summary"] == "Wrote hello.txt."
    assert git(project, "show", f"{task.result['commit']}:hello.txt") == "hello"
    assert member.role == "dev"
    # alice's model requests reached the server through the lead's ANTHROPIC_BASE_URL; her bash had no key
    alice = [r for r in fake_api.message_requests if ALICE in json.dumps(r.body.get("system"))]
    assert len(alice) == 3
    assert "key=none" in alice[1].tool_results[0]["content"]


def test_no_board_is_one_error_line_and_no_request(tmp_path: Path, run_gitboard, fake_api: FakeMessagesAPI) -> None:
    git(tmp_path, "init", "-q")
    res = run_gitboard(["lead", "-p", "hello"], cwd=tmp_path, env=fake_api.env())
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("gitboard: error: ") and "Traceback" not in res.stderr
    assert fake_api.message_requests == []


def test_one_shot_words_before_tool_calls_go_to_stderr(project: Path, run_gitboard, fake_api: FakeMessagesAPI) -> None:
    """With -p, stdout is the final reply alone; what the model said before calling tools is a
    progress line on stderr, with the tool calls."""
    fake_api.script(reply(text("Looking at the board first."), tool_use("task_list", {})),
                    reply(text("The board is empty.")))
    res = run_gitboard(["lead", "-p", "What is on the board?", "--model", "claude-sonnet-5-5"],
                       cwd=project, env=fake_api.env())
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "The board is empty.\n"
    err = res.stderr.splitlines()
    assert err[0] == "  · Looking at the board first." and err[1].startswith("  · task_list")

