#!/usr/bin/env python3
"""gitboard lead benchmark: what the lead's turn-start costs in context and time.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench_lead.py            # 10 and 100 teammates
    .venv/bin/python bench/bench_lead.py --quick    # 10 and 30

For a board with N teammates it prints:

- the characters (and tokens at 4 characters a token) the lead's turn-start adds to the
  conversation: on the first look (one line per teammate), on a look where nothing
  changed, and after every teammate finished a task and went idle (still one line each);
  next to what one idle/done notice *message* per teammate would add (the plain way, as
  ``<message_data>`` blocks), which a lead re-reads on every later turn;
- the wall time of that turn-start (roster, task list and the inbox drain: board reads and
  at most one commit), median of 5;
- the start-up of ``gitboard lead --help`` next to ``gitboard --version`` and ``gitboard
  spawn --help`` (bytecode writing on, as users have it): the lead command must not import
  the SDK before a model call.

A script, not a test: nothing asserts; it builds its own temporary repositories.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitboard.board import task_ops, roster_ops  # noqa: E402
from gitboard.store.repo import BoardRepo  # noqa: E402
from gitboard.store.setup import init  # noqa: E402
from gitboard.store.transact import transact  # noqa: E402
from gitboard.llm import prompts  # noqa: E402
from gitboard.lead.session import LeadSession  # noqa: E402

IDENT = ("-c", "user.name=Bench", "-c", "user.email=bench@example.invalid")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_board(root: Path, n: int) -> Path:
    path = root / f"team-{n}"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    (path / "README.md").write_text("bench\n")
    git(path, "add", "-A")
    git(path, *IDENT, "commit", "-q", "-m", "base")
    with BoardRepo(path) as r:
        init(r, actor="lead", team_name="bench")
        for i in range(n):
            name = f"mate{i:03d}"
            transact(r, partial(roster_ops.add_member, actor="lead", name=name))
            transact(r, partial(roster_ops.set_member, actor=name, name=name, status="idle"))
    return path


def chars(blocks: list[dict]) -> int:
    return sum(len(b.get("text", "")) for b in blocks)


def finish_all(path: Path, n: int) -> None:
    with BoardRepo(path) as r:
        for i in range(n):
            name = f"mate{i:03d}"
            task = transact(r, partial(task_ops.add, actor="lead", subject=f"Task for {name}"))
            transact(r, partial(task_ops.claim, actor=name, task_id=task.id))
            transact(r, partial(task_ops.finish, actor=name, task_id=task.id, ok=True, result={"summary": "done"}))


def notice_messages(n: int) -> int:
    """Characters of one idle notice message per teammate, as a lead without the roster view would get them."""
    msgs = [{"from": f"mate{i:03d}", "type": "message", "request_id": None,
             "content": f"mate{i:03d} is idle: finished task #{i + 1} (Task for mate{i:03d}); waiting for work."}
            for i in range(n)]
    return len(prompts.messages_text(msgs, "New messages in your inbox:"))


def timed(fn, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def startup(args: list[str], runs: int = 5) -> float:
    exe = Path(sys.executable).with_name("gitboard")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([str(exe), *args], capture_output=True, env=env)  # warm the bytecode cache
    return timed(lambda: subprocess.run([str(exe), *args], capture_output=True, env=env), runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 and 30 teammates instead of 10 and 100")
    opts = ap.parse_args()
    sizes = (10, 30) if opts.quick else (10, 100)
    root = Path(tempfile.mkdtemp(prefix="gitboard-bench-lead-"))
    try:
        print(f"{'teammates':>9} | {'first look':>18} | {'no change':>9} | {'all finished':>18} | "
              f"{'notice msgs':>18} | {'turn-start':>10}")
        for n in sizes:
            path = make_board(root, n)
            s = LeadSession(path, model="claude-sonnet-5-5")
            first = chars(s.news())
            same = chars(s.news())
            finish_all(path, n)
            done = chars(s.news())
            notices = notice_messages(n)
            t = timed(lambda: s.news())
            print(f"{n:>9} | {first:>7,} ch {first // 4:>5,} tok | {same:>6,} ch | {done:>7,} ch {done // 4:>5,} tok"
                  f" | {notices:>7,} ch {notices // 4:>5,} tok | {t * 1000:>7.1f} ms")
        v, sp, h = startup(["--version"]), startup(["spawn", "--help"]), startup(["lead", "--help"])
        print(f"\nstart-up (median of 5, bytecode on): gitboard --version {v * 1000:.0f} ms, "
              f"gitboard spawn --help {sp * 1000:.0f} ms, gitboard lead --help {h * 1000:.0f} ms")
        code = "import gitboard.cli.main, gitboard.lead.session, sys; print('anthropic' in sys.modules)"
        loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
        print(f"anthropic imported by the lead's modules before a model call: {loaded}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
