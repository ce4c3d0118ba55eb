"""Compatibility module: the merge queue is :mod:`gitboard.merge_queue.queue` (gitboard-move: keep).

``from gitboard.team.refinery import run_queue`` keeps working; new code imports
:func:`gitboard.merge_queue.queue.run_queue`.
"""

from gitboard.merge_queue.queue import (CHECK_TIMEOUT, OUTPUT_CHARS, CheckResult, QueueRun, Refinery,  # noqa: F401
                                        prune_stale_worktrees, run_check, run_queue)

__all__ = ["CHECK_TIMEOUT", "OUTPUT_CHARS", "CheckResult", "QueueRun", "Refinery", "prune_stale_worktrees",
           "run_check", "run_queue"]
