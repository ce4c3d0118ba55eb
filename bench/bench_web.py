#!/usr/bin/env python3
"""gitboard benchmark: the web board's time to first byte at 100 and 10,000 tasks.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench_web.py                 # 100 and 10,000 tasks
    .venv/bin/python bench/bench_web.py --tasks 1000

For each size it builds a real repository with a board (``gitboard task import``: every
third task blocked by the one before; then 12 claimed, 6 of them completed, 3 approved,
2 failed), starts ``gitboard serve`` on it and measures, over a loopback HTTP
connection, the time from sending a request to the first byte of the answer (the median
of 15 requests, and the slowest) for:

- ``/``: the board, every column windowed to its first 50 tasks;
- ``/?q=...``: a search over every task's subject and description;
- ``/?owner=...``: a filter by owner;
- ``/`` once after the board moved (a claim: a new tip, so a new listing index and columns);
- ``/task/N`` and ``/team``;
- live: from a claim's commit to its ``tip`` event on an open ``/events`` stream.

The target is 300 ms at 10,000 tasks. A script, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IDENT = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def sh(*args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
    return subprocess.run(args, cwd=cwd, input=input, capture_output=True, check=True).stdout.decode().strip()


def gb(repo: Path, *args: str, input: bytes | None = None) -> str:
    return sh(sys.executable, "-m", "gitboard", *args, cwd=repo, input=input)


def board(tmp: Path, n: int) -> Path:
    """A repository at ``tmp/board-<n>`` with ``n`` tasks in several states."""
    from gitboard.client import BoardClient

    repo = tmp / f"board-{n}"
    sh("git", "init", "-q", "-b", "main", str(repo))
    sh("git", "config", "maintenance.auto", "false", cwd=repo)
    sh("git", *IDENT, "commit", "-q", "--allow-empty", "-m", "base", cwd=repo)
    gb(repo, "init")
    lines = "\n".join(json.dumps({"subject": f"task {i}: refactor the {('parser', 'cache', 'api')[i % 3]} module, part {i}",
                                  "description": "Keep the public interface; add tests.",
                                  **({"blockedBy": [i - 1]} if i % 3 == 0 and i > 1 else {}),
                                  **({"role": "qa"} if i % 7 == 0 else {})})
                      for i in range(1, n + 1))
    gb(repo, "task", "import", "-", input=lines.encode())
    lead = BoardClient(repo, "lead")
    ready = [t for t in range(1, n + 1) if t % 3 != 0 and t % 7 != 0][:12]
    for k, tid in enumerate(ready):
        mate = BoardClient(repo, f"m{k % 4}")
        mate.claim(tid, lease=3600)
        if k < 6:
            mate.finish(tid, True, {"note": "done", "usage": {"input_tokens": 1000, "output_tokens": 200},
                                    "cost_usd": 0.02})
            if k < 3:
                lead.approve(tid)
        elif k < 8:
            mate.finish(tid, False, {"note": "tests fail"})
    return repo


def ttfb(host: str, port: int, path: str, cookie: str) -> float:
    """Seconds from sending the request to the first byte of the answer (the body is then read whole)."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.connect()
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        res = conn.getresponse()  # returns once the status line is in: the first byte
        first = time.perf_counter() - start
        res.read()
        if res.status != 200:
            raise SystemExit(f"bench_web: GET {path} answered {res.status}")
        return first
    finally:
        conn.close()


def live_lags(repo: Path, host: str, port: int, cookie: str, n: int, runs: int = 5) -> list[float]:
    """Seconds from each of ``runs`` claims (the board commit landing) to its ``tip`` event on
    one open ``/events`` stream."""
    from gitboard.client import BoardClient

    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("GET", "/events", headers={"Cookie": cookie})
    res = conn.getresponse()

    def next_event() -> str:
        lines = []
        while True:
            line = res.readline().decode().rstrip("\n")
            if not line:
                if lines:
                    return "\n".join(lines)
                continue
            lines.append(line)

    assert next_event().startswith("retry:")  # the hello
    lags = []
    todo = [t for t in range(60, n + 1) if t % 3 != 0 and t % 7 != 0][:runs]
    for tid in todo:
        BoardClient(repo, "m8").claim(tid, lease=3600)
        landed = time.perf_counter()
        while "event: tip" not in next_event():
            pass
        lags.append(time.perf_counter() - landed)
    conn.close()
    return lags


def measure(repo: Path, n: int) -> None:
    from gitboard.client import BoardClient
    from gitboard.web.security import cookie_name

    proc = subprocess.Popen([sys.executable, "-m", "gitboard", "serve", "--port", "0", "--no-notify"], cwd=repo,
                            stdout=subprocess.PIPE, text=True)
    try:
        m = re.search(r"http://([\d.]+):(\d+)/\?token=(\S+)", proc.stdout.readline())
        host, port, token = m.group(1), int(m.group(2)), m.group(3)
        cookie = f"{cookie_name(port)}={token}"
        ttfb(host, port, "/", cookie)  # the server's first read of this board
        rows = []
        for label, path in (("board", "/"), ("search", "/?q=cache+module%2C+part+99"), ("owner filter", "/?owner=m1"),
                            ("task page", "/task/2"), ("team", "/team")):
            times = [ttfb(host, port, path, cookie) for _ in range(15)]
            rows.append((label, statistics.median(times), max(times)))
        moved = []
        for k in range(5):
            tid = [t for t in range(30, n + 1) if t % 3 != 0 and t % 7 != 0][k]
            BoardClient(repo, "m9").claim(tid, lease=3600)
            moved.append(ttfb(host, port, "/", cookie))
        rows.append(("board after a claim", statistics.median(moved), max(moved)))
        lags = live_lags(repo, host, port, cookie, n)
        rows.append(("live: claim to event", statistics.median(lags), max(lags)))
        print(f"\n{n:,} tasks")
        print(f"  {'request':<22}{'median':>10}{'slowest':>10}")
        for label, med, worst in rows:
            print(f"  {label:<22}{med * 1000:>8.1f} ms{worst * 1000:>8.1f} ms")
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, action="append", help="board sizes (default: 100 and 10,000)")
    args = ap.parse_args()
    sizes = args.tasks or [100, 10_000]
    print(f"gitboard web board, time to first byte; python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="gitboard-bench-web-") as tmp:
        for n in sizes:
            start = time.perf_counter()
            repo = board(Path(tmp), n)
            print(f"(built the {n:,}-task board in {time.perf_counter() - start:.1f} s)")
            measure(repo, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
