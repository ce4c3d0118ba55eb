"""The two helpers most tests need: apply a board operation, and read the board, in a repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from gitboard.board.snapshot import Board
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact


def do(path: Path | str, op: Callable) -> Any:
    """Apply board operation ``op`` in the repository at ``path`` as one transaction; return its result."""
    with BoardRepo(path) as r:
        return transact(r, op)


def board(path: Path | str) -> Board:
    """Read the board of the repository at ``path`` (fetched first in remote mode)."""
    with BoardRepo(path) as r:
        return read_board(r)
