#!/usr/bin/env python3
"""gitboard benchmark: what ``gitboard watch`` and ``gitboard cost`` spend on a big board.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench_watch.py             # 10,000 tasks
    .venv/bin/python bench/bench_watch.py --tasks 1000

It builds a board snapshot in memory (no git: what is timed is the view, not the read,
which the main bench covers) of N tasks -- 16 in progress, 60% completed with usage and
cost, the rest pending, every third blocked -- and 16 teammates, then prints, each the
the median of 9 runs, wall and CPU time (the CPU time tells a loaded machine apart):

- ``frame``, board moved: :func:`gitboard.cli.watch_view.frame` of a board it has not seen
  (the work done once per new tip);
- ``frame``, redraw: the same board one second later (the work done every second);
- rich drawing that frame into an 80 x 24 terminal;
- :func:`gitboard.board.cost.summarise` by task and by day (``gitboard cost`` minus the read).

A script, not a test: nothing asserts, and it has no targets; it prints figures.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone


def board_of(n: int, now: datetime):
    from gitboard.board.layout import task_path
    from gitboard.board.snapshot import build

    lease = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = {".team/config.json": {"team_name": "bench", "members": [
        {"name": f"m{i}", "status": "working", "task": i + 1} for i in range(16)]}}
    for i in range(1, n + 1):
        status = "in_progress" if i <= 16 else ("completed" if i <= n * 0.6 else "pending")
        files[task_path(i)] = {
            "id": i, "subject": f"task number {i} with a subject of some length", "status": status,
            "owner": f"m{i % 16}" if status != "pending" else "", "blockedBy": [i - 1] if i % 3 == 0 else [],
            "claimed_at": "2026-12-01T10:00:00Z", "updated_at": f"2026-12-01T{10 + i % 8:02d}:00:00Z",
            "lease_expires_at": lease if status == "in_progress" else None,
            "result": {"usage": {"input_tokens": 1000 + i, "output_tokens": 100, "cache_read_input_tokens": 5000,
                                 "cache_creation_input_tokens": 0},
                       "cost_usd": 0.01 if i % 5 else None, "models": ["claude-sonnet-4-5"]}
            if status == "completed" else None}
    return build("f" * 40, files)


def median_ms(fn, runs: int = 9) -> tuple[float, float]:
    """Median wall time and median CPU time of ``fn()`` over ``runs`` runs, in ms."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    args = ap.parse_args()

    from rich.console import Console

    from gitboard.board import cost
    from gitboard.cli import watch_view

    now = datetime.now(timezone.utc)
    boards = [board_of(args.tasks, now) for _ in range(10)]  # a new board object per "new tip"
    mates = [watch_view.Mate(f"m{i}", "working", i + 1, "12:00:00 [m] edit_file: src/x.py") for i in range(16)]
    console = Console(width=80, height=24, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    fresh = iter(boards[1:])
    moved = median_ms(lambda: watch_view.frame(next(fresh), mates, now))
    watch_view.frame(boards[0], mates, now)
    redraw = median_ms(lambda: watch_view.frame(boards[0], mates, now + timedelta(seconds=1)))
    frame = watch_view.frame(boards[0], mates, now)
    draw = median_ms(lambda: console.print(frame))
    by_task = median_ms(lambda: cost.summarise(boards[0], "task"))
    by_day = median_ms(lambda: cost.summarise(boards[0], "day"))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"gitboard watch/cost bench: {args.tasks:,} tasks, 16 teammates; Python {platform.python_version()}, "
          f"{platform.machine()}, load average {load:.1f}")
    print("| figure | median of 9 (cpu) |\n|---|---|")
    for name, (wall, cpu) in (("watch frame, board moved (once per new tip)", moved),
                              ("watch frame, redraw of the same board (every second)", redraw),
                              ("rich drawing the 80 x 24 frame", draw),
                              ("cost summarise --by task", by_task), ("cost summarise --by day", by_day)):
        print(f"| {name} | {wall:.1f} ms (cpu {cpu:.1f} ms) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
