"""board/runs.py and its use by finish, rework and cost: every run of a reworked task counts."""

from __future__ import annotations

from datetime import datetime, timezone

from gitboard.board import cost, review_ops, task_ops
from gitboard.board.layout import task_path
from gitboard.board.runs import carry
from gitboard.board.snapshot import build
from gitboard.board.task import Task

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def usage(i, o):
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}


def board_of(*tasks: dict):
    return build("a" * 40, {task_path(t["id"]): t for t in tasks})


def in_progress(tid=1, owner="alice", claimed="2026-12-01T10:00:00Z", **extra):
    return {"id": tid, "subject": "work", "status": "in_progress", "owner": owner, "claimed_at": claimed,
            "updated_at": claimed, **extra}


def test_reject_then_done_again_keeps_the_first_runs_usage_with_its_owner() -> None:
    b = board_of(in_progress())
    first = task_ops.finish(b, NOW, actor="alice", task_id=1, ok=True,
                            result={"usage": usage(100, 10), "cost_usd": 0.5, "models": ["claude-sonnet-4-5"]}).result
    assert "runs" not in first.result  # a first run: the result as given
    sent_back = review_ops.reject(board_of(first.to_json()), NOW, actor="lead", task_id=1, feedback="redo").result
    assert sent_back.rework[-1]["run"] == {"owner": "alice", "claimed_at": "2026-12-01T10:00:00Z",
                                           "usage": usage(100, 10), "cost_usd": 0.5, "models": ["claude-sonnet-4-5"]}
    again = sent_back.evolve(status="in_progress", owner="bob", claimed_at="2026-12-02T09:00:00Z")
    second = task_ops.finish(board_of(again.to_json()), NOW, actor="bob", task_id=1, ok=True,
                             result={"usage": usage(50, 5), "cost_usd": 0.25, "models": ["gpt-5"]}).result
    assert second.result["usage"] == usage(50, 5)  # the last run's own record is unchanged
    assert second.result["runs"] == [{"owner": "alice", "claimed_at": "2026-12-01T10:00:00Z",
                                      "usage": usage(100, 10), "cost_usd": 0.5, "models": ["claude-sonnet-4-5"]}]
    b = board_of(second.to_json())
    assert cost.usage_of(second) == usage(150, 15) and cost.cost_of(second) == 0.75
    assert cost.models_of(second) == ("claude-sonnet-4-5", "gpt-5")
    whole, by_owner = cost.summarise(b, "teammate")
    assert whole.tasks == 1 and whole.cost_usd == 0.75 and whole.usage["input_tokens"] == 150
    assert [(g.key, g.cost_usd, g.usage["input_tokens"]) for g in by_owner] == [("alice", 0.5, 100), ("bob", 0.25, 50)]
    _, by_day = cost.summarise(b, "day")
    assert [(g.key, g.cost_usd) for g in by_day] == [("2026-12-01", 0.5), ("2026-12-02", 0.25)]
    _, by_model = cost.summarise(b, "model")
    assert [(g.key, g.cost_usd) for g in by_model] == [("claude-sonnet-4-5", 0.5), ("gpt-5", 0.25)]
    assert cost.total(b).cost_usd == 0.75  # the team budget counts both runs


def test_a_third_run_keeps_both_earlier_ones_in_order() -> None:
    t = Task.from_json(in_progress(result={"usage": usage(2, 2), "cost_usd": 0.2,
                                           "runs": [{"owner": "alice", "claimed_at": None, "usage": usage(1, 1),
                                                     "cost_usd": 0.1, "models": []}]}))
    out = carry(t, {"usage": usage(3, 3), "cost_usd": 0.3})
    assert [r["cost_usd"] for r in out["runs"]] == [0.1, 0.2] and out["runs"][1]["owner"] is None
    assert round(cost.cost_of(t.evolve(result=out)), 6) == 0.6


def test_a_failed_run_put_back_by_hand_still_counts_without_an_owner() -> None:
    t = Task.from_json(in_progress(owner="bob", result={"usage": usage(9, 1), "cost_usd": None}))
    out = carry(t, None)  # task done without a note
    assert out == {"runs": [{"owner": None, "claimed_at": None, "usage": usage(9, 1), "cost_usd": None,
                             "models": []}]}
    assert cost.usage_of(t.evolve(result=out)) == usage(9, 1) and cost.cost_of(t.evolve(result=out)) is None


def test_runs_without_usage_carry_nothing() -> None:
    t = Task.from_json(in_progress(result={"note": "by hand"}))
    assert carry(t, {"note": "again"}) == {"note": "again"}
    assert carry(Task.from_json(in_progress()), "text") == "text"
    # a non-object result keeps its value beside the runs
    t = Task.from_json(in_progress(result={"usage": usage(1, 0)}))
    assert carry(t, "text")["value"] == "text"
