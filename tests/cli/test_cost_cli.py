"""``gitboard cost``: sums over task results on a real board, JSON and human output, bad input."""

from __future__ import annotations

import pytest

from gitboard.board import task_ops
from tests.cli.helpers import ok, one_error_line
from tests.helpers.inbox_helpers import run_op


def usage(i, o, cr=0, cw=0):
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": cr, "cache_creation_input_tokens": cw}


@pytest.fixture
def costed(run_cli, repo):
    """Three tasks done by alice and bob with results as teammates record them: priced, priced, unpriced."""
    results = [("alice", {"branch": "task/1", "commit": "c1", "summary": "one", "usage": usage(1200, 300, 5000, 100),
                          "cost_usd": 0.0421, "models": ["claude-sonnet-4-5"], "num_turns": 3, "session_id": None}),
               ("bob", {"branch": "task/2", "commit": "c2", "summary": "two", "usage": usage(38680, 900),
                        "cost_usd": 0.19, "models": ["claude-sonnet-4-5"], "num_turns": 8, "session_id": "s"}),
               ("bob", {"branch": "task/3", "commit": "c3", "summary": "three", "usage": usage(10, 5),
                        "cost_usd": None, "models": ["gpt-5-codex"], "num_turns": None, "session_id": None})]
    for n, (who, result) in enumerate(results, start=1):
        ok(run_cli(["task", "add", f"task {n}"], cwd=repo))
        ok(run_cli(["task", "claim", str(n), "--as", who], cwd=repo))
        run_op(repo, task_ops.finish, actor=who, task_id=n, ok=True, result=result)
    ok(run_cli(["task", "add", "not started"], cwd=repo))
    return repo


def test_cost_json_by_task(run_cli, costed):
    doc = ok(run_cli(["cost", "--json"], cwd=costed)).json()
    assert doc["by"] == "task"
    assert doc["total"] == {"tasks": 3, "priced": 2, "unpriced": 1, "cost_usd": 0.2321, "tokens": 46195,
                            "usage": usage(39890, 1205, 5000, 100)}
    assert [g["key"] for g in doc["groups"]] == [1, 2, 3]
    g3 = doc["groups"][2]
    assert g3["cost_usd"] is None and g3["tokens"] == 15 and g3["subject"] == "task 3"
    assert g3["owner"] == "bob" and g3["status"] == "completed" and g3["models"] == ["gpt-5-codex"]


def test_cost_json_by_teammate_and_model(run_cli, costed):
    by_mate = {g["key"]: g for g in ok(run_cli(["cost", "--by", "teammate", "--json"], cwd=costed)).json()["groups"]}
    assert by_mate["alice"]["cost_usd"] == 0.0421 and by_mate["alice"]["unpriced"] == 0
    assert by_mate["bob"]["cost_usd"] == 0.19 and by_mate["bob"]["unpriced"] == 1 and by_mate["bob"]["tasks"] == 2
    by_model = {g["key"]: g for g in ok(run_cli(["cost", "--by", "model", "--json"], cwd=costed)).json()["groups"]}
    assert by_model["claude-sonnet-4-5"]["cost_usd"] == 0.2321 and by_model["gpt-5-codex"]["cost_usd"] is None


def test_cost_human_shows_unknown_not_zero(run_cli, costed, monkeypatch):
    from gitboard.cli import render

    monkeypatch.setattr(render.console, "_width", 160)
    out = ok(run_cli(["cost", "--by", "teammate"], cwd=costed)).stdout
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
    assert rows["alice"][1:] == ["1", "1,200", "300", "5,000", "100", "$0.0421"]
    assert rows["bob"][1:] == ["2", "38,690", "905", "0", "0", "$0.1900+?"]
    assert rows["total"][-1] == "$0.2321+?"
    assert "1 task has tokens but no recorded cost: unknown (+?), not 0" in out
    out = ok(run_cli(["cost"], cwd=costed)).stdout
    assert [ln.split()[-1] for ln in out.splitlines() if ln.startswith("#3")] == ["unknown"]


def test_cost_of_a_board_without_usage(run_cli, repo):
    assert ok(run_cli(["cost"], cwd=repo)).stdout.strip() == "no task records usage or cost yet"
    doc = ok(run_cli(["cost", "--by", "day", "--json"], cwd=repo)).json()
    assert doc["groups"] == [] and doc["total"]["cost_usd"] is None and doc["total"]["tasks"] == 0


def test_bad_grouping_is_one_error_line_exit_2(run_cli, repo):
    res = run_cli(["cost", "--by", "week"], cwd=repo)
    assert res.exit_code == 2
    assert "--by must be one of task, teammate, model, day" in one_error_line(res)
