"""The lead's progress lines give each tool call's short form (``  · task_create: Write
hello.txt``), as the README shows, not its whole input as JSON: ``gitboard lead -p`` against
the loopback Messages API, and the short forms on their own."""

from __future__ import annotations

from pathlib import Path

from gitboard.lead.progress import short_lead_input
from gitboard.lead.tools import NAMES
from tests.helpers.fake_messages_api import FakeMessagesAPI, fake_api, reply, text, tool_use  # noqa: F401
from tests.helpers.runtime_helpers import make_project


def test_lead_progress_lines_are_short(tmp_path: Path, run_gitboard, fake_api: FakeMessagesAPI) -> None:
    project = make_project(tmp_path)
    fake_api.script(
        reply(tool_use("task_create", {"subject": "Write hello.txt", "description": "A file that says hello.\n" * 20,
                                       "run": "echo hello > hello.txt"}),
              tool_use("task_create", {"subject": "Check it", "blocked_by": [1]})),
        reply(tool_use("task_update", {"task_id": 2, "role": "qa", "description": "look at hello.txt"}),
              tool_use("task_get", {"task_id": 1}), tool_use("merge_tasks", {})),
        reply(text("Two tasks are on the board.")))
    res = run_gitboard(["lead", "-p", "Plan the greeting.", "--model", "claude-sonnet-5-5"], cwd=project,
                       env=fake_api.env())
    assert res.exit_code == 0, res.stderr
    progress = [ln for ln in res.stderr.splitlines() if ln.startswith("  · ")]
    assert progress[:5] == ["  · task_create: Write hello.txt", "  · task_create: Check it (blocked by #1)",
                            "  · task_update: #2: description, role", "  · task_get: #1",
                            "  · merge_tasks: every approved task"], res.stderr
    assert not any("{" in ln for ln in progress)


def test_every_lead_tool_has_a_short_form_without_json() -> None:
    full = {"task_id": 3, "subject": "S", "status": "pending", "name": "alice", "role": "dev", "prompt": "p" * 500,
            "agent": "claude", "to": "bob", "content": "hi", "teammate": "bob", "request_id": "r1",
            "approve": True, "feedback": "ok", "note": "fine", "task_ids": [1, 2], "blocked_by": [1],
            "command": "ls", "path": "a.txt"}
    for name in NAMES:
        short = short_lead_input(name, full)
        assert "{" not in short and len(short) <= 120, (name, short)
    assert short_lead_input("spawn_teammate", full) == "alice (dev), claude agent"
    assert short_lead_input("plan_approval", {"request_id": "r1", "approve": False, "feedback": "smaller"}) == \
        "r1 reject: smaller"
    assert short_lead_input("reject_task", {"task_id": 4, "feedback": "add tests"}) == "#4: add tests"
