"""board/cost.py: summing the usage and cost that task results record, per group and in total."""

from __future__ import annotations

import pytest

from gitboard.board import cost
from gitboard.board.layout import task_path
from gitboard.board.snapshot import build


def usage(i, o, cr=0, cw=0):
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": cr, "cache_creation_input_tokens": cw}


def task(tid, result, owner="alice", claimed="2026-12-01T10:00:00Z", status="completed"):
    return {"id": tid, "subject": f"t{tid}", "status": status, "owner": owner, "claimed_at": claimed,
            "updated_at": "2026-12-03T00:00:00Z", "result": result}


def board(*tasks):
    return build("a" * 40, {task_path(t["id"]): t for t in tasks})


B = board(
    task(1, {"usage": usage(100, 20, 300, 40), "cost_usd": 0.25, "models": ["claude-sonnet-4-5"]}),
    task(2, {"usage": usage(1000, 200), "cost_usd": 0.5, "models": ["claude-opus-4-1"]}, owner="bob",
         claimed="2026-12-02T23:59:59Z"),
    task(3, {"usage": usage(7, 3), "cost_usd": None, "models": ["claude-sonnet-4-5"]}, owner="bob"),
    task(4, {"usage": usage(0, 0), "models": []}, owner=""),          # shell agent: no tokens, no cost: does not count
    task(5, {"note": "done by hand"}),                                 # no usage, no cost: does not count
    task(6, None, status="pending", owner="", claimed=None),
    task(7, {"usage": usage(5, 5), "cost_usd": 0.125, "models": ["claude-sonnet-4-5", "claude-haiku-4-5"]},
         status="failed"),
    task(8, {"usage": usage(1, 1)}, owner="", claimed=None),         # tokens, no cost, owner or model
)


def test_total_sums_tokens_of_every_counted_task_and_only_known_costs():
    t = cost.total(B)
    assert (t.tasks, t.priced, t.unpriced) == (5, 3, 2)
    assert t.cost_usd == pytest.approx(0.875)
    assert t.usage == usage(1113, 229, 300, 40) and t.tokens == 1682


def test_by_task_is_in_id_order_and_unpriced_tasks_have_unknown_cost():
    _, groups = cost.summarise(B, "task")
    assert [g.key for g in groups] == [1, 2, 3, 7, 8]
    g3 = groups[2].to_json()
    assert g3["cost_usd"] is None and g3["unpriced"] == 1 and g3["tokens"] == 10


def test_by_teammate_keeps_a_partly_priced_group_honest():
    _, groups = cost.summarise(B, "teammate")
    by = {g.key: g for g in groups}
    assert [g.key for g in groups] == ["alice", "bob", cost.NONE_KEY]  # no owner last
    assert by["bob"].cost_usd == pytest.approx(0.5) and by["bob"].unpriced == 1 and by["bob"].tasks == 2
    assert by["alice"].cost_usd == pytest.approx(0.375) and by["alice"].unpriced == 0
    assert by[cost.NONE_KEY].cost_usd is None


def test_by_model_never_counts_a_cost_twice():
    whole, groups = cost.summarise(B, "model")
    by = {g.key: g for g in groups}
    assert set(by) == {"claude-sonnet-4-5", "claude-opus-4-1", "claude-sonnet-4-5, claude-haiku-4-5", cost.NONE_KEY}
    assert sum(g.cost_usd or 0 for g in groups) == pytest.approx(whole.cost_usd)
    assert sum(g.tokens for g in groups) == whole.tokens


def test_by_day_uses_the_claim_day_in_utc_else_the_last_update():
    _, groups = cost.summarise(B, "day")
    assert [(g.key, g.tasks) for g in groups] == [("2026-12-01", 3), ("2026-12-02", 1), ("2026-12-03", 1)]


def test_malformed_values_count_as_missing():
    b = board(task(1, {"usage": {"input_tokens": "9", "output_tokens": -3, "cache_read_input_tokens": True,
                                 "cache_creation_input_tokens": 2}, "cost_usd": "0.5"}),
              task(2, {"usage": "lots", "cost_usd": -1.0}),
              task(3, {"cost_usd": float("nan")}),
              task(4, {"cost_usd": 2}))
    t = cost.total(b)
    assert t.tasks == 2 and t.usage == usage(0, 0, 0, 2)  # 2 and 3 record nothing valid: they do not count
    assert t.priced == 1 and t.cost_usd == 2.0


def test_an_empty_board_costs_nothing_known():
    whole, groups = cost.summarise(board(), "task")
    assert groups == [] and whole.to_json() == {"key": "", "tasks": 0, "priced": 0, "unpriced": 0,
                                                "cost_usd": None, "tokens": 0, "usage": usage(0, 0)}


def test_unknown_grouping_is_refused():
    with pytest.raises(ValueError):
        cost.summarise(B, "week")


def test_the_leads_sessions_sum_apart_and_unknown_stays_unknown() -> None:
    from gitboard.board.cost import lead_total

    u = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    total = lead_total([{"usage": u, "priced_usd": 0.5, "responses": 2, "unpriced_responses": 0},
                        {"usage": u, "priced_usd": 0.25, "responses": 3, "unpriced_responses": 1},  # partly unpriced
                        {"usage": {}, "priced_usd": 0.0}, "junk", {"usage": {"input_tokens": "many"}}])
    assert (total.tasks, total.priced, total.unpriced) == (2, 1, 1)
    assert total.cost_usd == 0.5 and total.usage["input_tokens"] == 20 and total.usage["output_tokens"] == 10
    assert lead_total([]).to_json()["cost_usd"] is None
