"""``gitboard cost``: the usage and cost the board's task results record, summed."""

from __future__ import annotations

import typer

from gitboard.board.cost import GROUPINGS
from gitboard.board.errors import Invalid
from gitboard.cli.common import JSON_OPT, OFFLINE_OPT, emit, open_repo, warn


def cost(
    by: str = typer.Option("task", "--by", metavar="task|teammate|model|day",
                           autocompletion=lambda incomplete: [g for g in GROUPINGS if g.startswith(incomplete)],
                           help="Group by task, teammate (the task's owner), model, or day (UTC, of the claim)."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    r"""Sum the tokens and cost (USD) recorded in task results, per group and in total, and
    the model-driven lead's own (this clone's saved lead conversations), apart.

    A task whose result records tokens but no cost_usd is unpriced: its tokens
    count, and its cost is shown as unknown, never as 0. --json prints {"by", "total",
    "groups": \[...], "lead": {"sessions", "priced", "unpriced", "cost_usd", "tokens",
    "usage"}}; "total" is the tasks' alone.
    """
    from pathlib import Path

    from gitboard.board import cost as costs
    from gitboard.store.read import read_board
    from gitboard.lead.saved import saved_meters

    if by not in GROUPINGS:
        raise Invalid(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    with open_repo(offline) as repo:
        board = read_board(repo)
        meters = saved_meters(Path(repo.common_dir, "gitboard"))
    for path, why in sorted(board.corrupt.items()):
        warn(f"{path} is corrupt and was skipped: {why}")
    whole, groups = costs.summarise(board, by)
    rows = []
    for g in groups:
        row = g.to_json()
        if by == "task":
            t = board.tasks[g.key]
            row.update(subject=t.subject, status=t.status, owner=t.owner, models=list(costs.models_of(t)))
        rows.append(row)
    total = whole.to_json()
    del total["key"]
    lead = costs.lead_total(meters).to_json()
    lead["sessions"] = lead.pop("tasks")
    del lead["key"]
    doc = {"by": by, "total": total, "groups": rows, "lead": lead}

    def human() -> None:
        from gitboard.cli import render

        render.show(render.cost_table(doc))

    emit(json_, doc, human)
