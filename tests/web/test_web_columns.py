"""The web board's columns as windows of the listing index, on a real board: the split by
state, the filters, the search and the window; the cost chart's days; shown board text."""

from __future__ import annotations

from gitboard.board.cost import Sum
from gitboard.client import BoardClient
from gitboard.web.app import visible
from gitboard.web.charts import day_bars
from gitboard.web.columns import Columns


def page_ids(columns, **filters) -> dict[str, list[int]]:
    return {c.key: [card.id for card in c.cards] for c in columns.page(**filters)}


def test_columns_split_filter_search_and_window(board_project):
    lead, alice, bob = (BoardClient(board_project, n) for n in ("lead", "alice", "bob"))
    ids = [lead.add_task(s, description=d, role=r).id for s, d, r in (
        ("parse the input", "", "dev"), ("Écrire la doc", "en français", None), ("cache prices", "", "dev"),
        ("review me", "", None), ("approve me", "", None), ("fail me", "", None), ("blocked", "", None))]
    lead.update_task(ids[6], blocked_by=[ids[0]])
    alice.claim(ids[0], role="dev", lease=600)
    for tid, who in ((ids[3], bob), (ids[4], alice)):
        who.claim(tid)
        who.finish(tid, True, {"note": "done"})
    from tests.helpers.merge_helpers import commit_on

    commit_on(board_project, f"task/{ids[4]}", "main", {"x": "x\n"}, "x")
    lead.approve(ids[4])
    bob.claim(ids[5])
    bob.finish(ids[5], False, {"note": "no"})
    tip, index = lead.listing()
    cols = Columns(index)
    assert page_ids(cols) == {"ready": [ids[1], ids[2]], "blocked": [ids[6]], "in_progress": [ids[0]],
                              "review": [ids[3]], "approved": [ids[4]], "merged": [], "failed": [ids[5]]}
    assert page_ids(cols, role="dev") == {"ready": [ids[2]], "blocked": [], "in_progress": [ids[0]], "review": [],
                                          "approved": [], "merged": [], "failed": []}
    assert sum(page_ids(cols, role="-").values(), []) == [ids[1], ids[6], ids[3], ids[4], ids[5]]
    assert sum(page_ids(cols, owner="bob").values(), []) == [ids[3], ids[5]]
    assert sum(page_ids(cols, owner="-").values(), []) == [ids[1], ids[2], ids[6]]
    assert sum(page_ids(cols, query="ÉCRIRE").values(), []) == [ids[1]]
    assert sum(page_ids(cols, query="français").values(), []) == [ids[1]]
    assert sum(page_ids(cols, query=f"#{ids[2]}").values(), []) == [ids[2]]
    assert sum(page_ids(cols, query="subject").values(), []) == []  # a key of the JSON text, not the task's text
    assert sum(page_ids(cols, query="me", owner="alice").values(), []) == [ids[4]]
    window = {c.key: (c.total, len(c.cards)) for c in cols.page(limits={"ready": 1})}
    assert window["ready"] == (2, 1)
    assert cols.roles() == ["dev"] and cols.owners() == ["alice", "bob"]
    assert cols.task(ids[1])["subject"] == "Écrire la doc" and cols.task(999) is None


def test_the_cost_chart_spans_every_day_between():
    def day(key: str, cost: float) -> Sum:
        s = Sum(key=key)
        s.add({"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 0,
               "cache_creation_input_tokens": 0}, cost)
        return s

    svg = day_bars([day("2026-11-20", 0.5), day("2026-12-01", 2.0), Sum(key="-")])
    assert svg.count("<rect") == 12  # Nov 20 .. Dec 1
    assert "2026-12-01: $2.00 (1 task)" in svg
    assert day_bars([]) == ""
    tokens_only = Sum(key="2026-12-01")
    tokens_only.add({"input_tokens": 5000, "output_tokens": 0, "cache_read_input_tokens": 0,
                     "cache_creation_input_tokens": 0}, None)
    assert "tokens per day" in day_bars([tokens_only])
    assert "<b>" not in day_bars([Sum(key="<b>2026-12-01")])  # not a day: left out, never drawn


def test_control_characters_are_shown_not_passed_on():
    assert visible("red \x1b[31mX\x07\ttab\nline") == "red \\x1b[31mX\\x07\ttab\nline"
    assert visible(3) == 3
