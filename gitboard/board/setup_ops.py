"""The operation that creates a board: its first commit holds ``.team/config.json`` and the format file."""

from __future__ import annotations

from datetime import datetime

from gitboard.board import layout
from gitboard.board.change import Change, NoChange, trailers
from gitboard.board.errors import Invalid
from gitboard.board.names import check_name
from gitboard.board.snapshot import Board
from gitboard.board.task import dump_json
from gitboard.board.roster import CONFIG_PATH, Team


def init_board(board: Board, now: datetime, *, actor: str, team_name: str) -> Change | NoChange:
    """Create the board with an empty roster named ``team_name``; an existing board is left as it is.

    The first commit holds the roster and the format file (:data:`layout.FORMAT_PATH`).
    Returns NoChange(board.team) when the board already exists, else a Change
    whose result is the new :class:`Team`.

    Raises:
        Invalid: empty team name or bad actor name.
    """
    check_name(actor)
    if board.tip is not None:
        return NoChange(board.team)
    if not team_name.strip():
        raise Invalid("team name must not be empty")
    team = Team(team_name=team_name.strip())
    return Change({CONFIG_PATH: dump_json(team.to_json()), layout.FORMAT_PATH: layout.format_file()},
                  f"init board {team.team_name} by {actor}",
                  trailers("init", actor), result=team)
