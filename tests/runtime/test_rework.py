"""Rework with real teammates: conflict -> rework -> merged, with the shell agent and an anthropic teammate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitboard.merge_queue.queue import run_queue
from tests.helpers.merge_helpers import completed_task, first_parent, g
from tests.helpers.fake_messages_api import FakeMessagesAPI, reply, text, tool_use
from tests.helpers.runtime_helpers import add_tasks, board, make_project, teammate


def test_shell_task_in_conflict_is_reworked_from_the_new_base_and_merged(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    g(path, "config", "gitboard.review", "none")
    add_tasks(path, [{"subject": "one", "run": "echo one > shared.txt; echo a > a.txt"},
                     {"subject": "two", "run": "echo two > shared.txt; echo b > b.txt"}])
    t, _ = teammate(path)
    t.run()
    assert [board(path).tasks[i].status for i in (1, 2)] == ["completed", "completed"]
    assert run_queue(path) == {"merged": [1], "rework": [{"id": 2, "reason": "conflict", "paths": ["shared.txt"]}],
                               "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    old_tip = g(path, "rev-parse", "task/2")
    t, lines = teammate(path)
    t.run()
    task = board(path).tasks[2]
    assert task.status == "completed" and task.rework[-1]["reason"] == "conflict"
    assert any("restarted task/2 from main" in ln for ln in lines), lines
    assert g(path, "merge-base", "--is-ancestor", old_tip, "task/2") == ""  # fast-forward: no force needed
    assert g(path, "show", "task/2:shared.txt") == "two" and g(path, "show", "task/2:a.txt") == "a"
    assert run_queue(path) == {"merged": [2], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert first_parent(path)[:2] == ["Merge task #2: two", "Merge task #1: one"]
    assert (path / "shared.txt").read_text() == "two\n" and (path / "b.txt").exists()
    assert board(path).tasks[2].status == "merged"


@pytest.mark.usefixtures("anthropic_env")
def test_anthropic_teammate_resolves_a_conflict_from_its_rework_prompt(tmp_path: Path, run_cli,
                                                                        fake_api: FakeMessagesAPI) -> None:
    from gitboard.agents.anthropic import AnthropicAgent

    path = make_project(tmp_path, files={"greeting.txt": "hello\n"})
    a = completed_task(run_cli, path, "Say hi", {"greeting.txt": "hi\n"}, approve=True)
    b = completed_task(run_cli, path, "Say hey", {"greeting.txt": "hey\n", "b.txt": "b\n"}, approve=True)
    assert run_queue(path)["rework"] == [{"id": b, "reason": "conflict", "paths": ["greeting.txt"]}]
    seen: dict = {}

    def model(request) -> dict:
        body = request.body
        system = json.dumps(body.get("system"))
        if "first" not in seen:
            seen["first"] = system
            wt = Path(json.loads(json.dumps(body["system"]))[0]["text"].split("in the git worktree ")[1].split(";")[0])
            seen["markers"] = (wt / "greeting.txt").read_text()
            return reply(tool_use("write_file", {"path": "greeting.txt", "content": "hi and hey\n"}))
        return reply(text("Resolved greeting.txt: kept both."))

    fake_api.handler = model
    t, lines = teammate(path, agent=AnthropicAgent(max_retries=1))
    t.run()
    prompt = seen["first"]
    assert "came back for rework" in prompt and "greeting.txt" in prompt and "conflict markers" in prompt
    assert "does not merge cleanly" in prompt  # the queue's feedback, carried as a rework record
    assert "<<<<<<<" in seen["markers"] and ">>>>>>>" in seen["markers"]  # the conflict was left for the model
    task = board(path).tasks[b]
    assert task.status == "completed", lines
    assert g(path, "show", f"task/{b}:greeting.txt") == "hi and hey"
    assert len(g(path, "log", "-1", "--format=%P", f"task/{b}").split()) == 2  # the rework merge, concluded
    assert run_cli(["approve", b], cwd=path).exit_code == 0
    assert run_queue(path) == {"merged": [b], "rework": [], "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    assert (path / "greeting.txt").read_text() == "hi and hey\n"
    assert first_parent(path)[0] == f"Merge task #{b}: Say hey" and a


@pytest.mark.usefixtures("anthropic_env")
def test_the_harness_refuses_to_complete_work_with_conflict_markers(tmp_path: Path, run_cli,
                                                                     fake_api: FakeMessagesAPI) -> None:
    from gitboard.agents.anthropic import AnthropicAgent

    path = make_project(tmp_path, files={"greeting.txt": "hello\n"})
    completed_task(run_cli, path, "Say hi", {"greeting.txt": "hi\n"}, approve=True)
    b = completed_task(run_cli, path, "Say hey", {"greeting.txt": "hey\n"}, approve=True)
    run_queue(path)
    fake_api.handler = lambda request: reply(text("All done, nothing to resolve."))  # it ignores the conflict
    t, lines = teammate(path, agent=AnthropicAgent(max_retries=1))
    t.run()
    task = board(path).tasks[b]
    assert task.status == "failed"
    assert "conflict markers left in greeting.txt" in task.result["reason"]
    assert task.result["conflicts"] == ["greeting.txt"]


def test_exec_prompt_carries_the_rework_records(tmp_path: Path, run_cli) -> None:
    from gitboard.agents.exec import ExecAgent

    path = make_project(tmp_path, files={"x.txt": "x\n"})
    tid = completed_task(run_cli, path, "Edit x", {"x.txt": "y\n"}, approve=True)
    assert run_cli(["reject", tid, "--feedback", "use the word zebra"], cwd=path).exit_code == 0
    out = tmp_path / "prompt.txt"
    t, _ = teammate(path, agent=ExecAgent(f"cat > {out}; echo zebra > x.txt"))
    t.run()
    prompt = out.read_text()
    assert "came back for rework" in prompt and "use the word zebra" in prompt and 'reason="review"' in prompt
    assert "merged main" in prompt and "cleanly" in prompt
    assert board(path).tasks[tid].status == "completed"
    assert g(path, "show", f"task/{tid}:x.txt") == "zebra"


@pytest.mark.usefixtures("anthropic_env")
def test_a_rework_merge_left_half_way_by_a_dead_teammate_is_continued_not_redone(tmp_path: Path, run_cli,
                                                                                 fake_api: FakeMessagesAPI) -> None:
    from gitboard.store.repo import BoardRepo
    from gitboard.runtime import rework
    from gitboard.agents.anthropic import AnthropicAgent
    from gitboard.runtime.worktree import prepare

    path = make_project(tmp_path, files={"greeting.txt": "hello\n"})
    completed_task(run_cli, path, "Say hi", {"greeting.txt": "hi\n"}, approve=True)
    b = completed_task(run_cli, path, "Say hey", {"greeting.txt": "hey\n"}, approve=True)
    run_queue(path)
    with BoardRepo(path) as repo:  # a teammate that got as far as half a resolution, then died
        brd = board(path)
        wt = prepare(repo, brd.tasks[b], brd, actor="ghost")
        started = rework.start(repo, wt, brd.tasks[b], brd, actor="ghost", restart=False)
    assert started.conflicts == ("greeting.txt",)
    (wt.path / "greeting.txt").write_text("hi and hey (resolved by the ghost)\n")
    seen = {}

    def model(request) -> dict:
        seen.setdefault("prompt", json.dumps(request.body.get("system")))
        seen.setdefault("file", (wt.path / "greeting.txt").read_text())
        return reply(text("The resolution in greeting.txt is complete."))

    fake_api.handler = model
    t, lines = teammate(path, agent=AnthropicAgent(max_retries=1))
    t.run()
    assert seen["file"] == "hi and hey (resolved by the ghost)\n"  # kept, not thrown away
    assert any("continuing the merge" in ln for ln in lines), lines
    assert "greeting.txt" in seen["prompt"]
    assert board(path).tasks[b].status == "completed"
    assert g(path, "show", f"task/{b}:greeting.txt") == "hi and hey (resolved by the ghost)"
    assert len(g(path, "log", "-1", "--format=%P", f"task/{b}").split()) == 2
