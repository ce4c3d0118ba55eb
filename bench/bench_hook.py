#!/usr/bin/env python3
"""gitboard benchmark: what the pre-receive hook adds to a claim, and verify's commits/s.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench_hook.py            # about a minute on 2 cores
    .venv/bin/python bench/bench_hook.py --quick

It builds its own temporary repositories (removed afterwards) and prints:

- the wall time of one claim through :func:`gitboard.store.transact.transact` in remote
  mode (fetch, commit, push) against a bare remote **with** gitboard's hook installed as
  ``gitboard hook install`` installs it (pushes judged by the warm hook server,
  :mod:`gitboard.hook.server`), against one with ``--no-server`` (the hook's own Python
  process judges each push) and against an identical one **without** a hook, measured in
  turn in the same run; the median difference is what the hook adds (target: at most
  50 ms, for the hook as installed). Python starts the hook as users run it:
  ``PYTHONDONTWRITEBYTECODE`` is unset, so its modules are byte-compiled once and then
  loaded from ``.pyc``;
- the same difference on a board of 10,000 tasks (1,000 with ``--quick``), hook as installed;
- the hook's own run time on one pushed claim (the installed script on git's input), served
  and in its own process, and for the latter Python's bare start-up as the hook starts it
  (``-I -S``), the import of gitboard's hook modules, and ``python -c pass``;
- ``gitboard verify``'s rate over a board history of N commits, in-process
  (:func:`gitboard.store.verify.check_range`) and through the console script (target: at
  least 500 commits/s).

A script, not a test: nothing asserts. The exit status is 1 if a target is missed.
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

from gitboard.board import inbox_ops, task_ops, roster_ops
from gitboard.store.hooks import install
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.transact import transact
from gitboard.store.verify import check_range

ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


def git(cwd: Path, *args: str) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {p.stderr}")
    return p.stdout.strip()


def do(path: Path, op) -> object:
    with BoardRepo(path) as r:
        return transact(r, op)


def remote_pair(root: Path, name: str, tasks: int, hooked: bool, server: bool = True) -> Path:
    bare = root / f"{name}.git"
    git(root, "init", "-q", "--bare", "--template=", str(bare))
    if hooked:
        install(str(bare), python=sys.executable, server=server)
    clone = root / name
    git(root, "clone", "-q", str(bare), str(clone))
    with BoardRepo(clone) as r:
        init(r, actor="lead", team_name="bench", remote="origin")
    do(clone, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"job {i}"} for i in range(tasks)]))
    return clone


def claim_times(root: Path, n: int, tasks: int, no_server: bool = True, tag: str = "") -> dict[str, list[float]]:
    """Seconds of each of ``n`` claims per remote: ``served`` (the hook as installed), ``own``
    (``--no-server``; left out unless ``no_server``) and ``plain`` (no hook), taken in turn."""
    clones = {"served": remote_pair(root, f"served{tag}", tasks, True),
              "plain": remote_pair(root, f"plain{tag}", tasks, False)}
    if no_server:
        clones["own"] = remote_pair(root, f"own{tag}", tasks, True, server=False)
    for clone in clones.values():  # warm-up: byte-compile the hook's modules, fill the caches, start the server
        do(clone, partial(task_ops.claim, actor="warm", task_id=None))
    time.sleep(0.5)
    times: dict[str, list[float]] = {k: [] for k in clones}
    order = list(clones)
    for i in range(n):
        for key in order[i % len(order):] + order[:i % len(order)]:
            start = time.perf_counter()
            do(clones[key], partial(task_ops.claim, actor=f"w{i}", task_id=None))
            times[key].append(time.perf_counter() - start)
    return times


def hook_run_time(root: Path, n: int, name: str) -> float:
    """Median seconds of the installed script of remote ``name`` judging one claim already in
    the repository's objects (the board branch set back to the claim's parent meanwhile)."""
    bare = root / f"{name}.git"
    tip = git(bare, "rev-parse", "gitboard")
    parent = git(bare, "rev-parse", "gitboard~1")
    git(bare, "update-ref", "refs/heads/gitboard", parent)
    line = f"{parent} {tip} refs/heads/gitboard\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        p = subprocess.run([str(bare / "hooks" / "pre-receive")], input=line, cwd=bare, env=env,
                           capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if p.returncode != 0:
            raise SystemExit(f"the hook refused a good claim: {p.stderr}")
    git(bare, "update-ref", "refs/heads/gitboard", tip)
    return statistics.median(times)


def python_start(n: int, *flags: str) -> float:
    """Median seconds of ``python [flags] -c pass`` (the hook starts Python with ``-I -S``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([sys.executable, *flags, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_time(n: int) -> float:
    """Median seconds to import the hook's modules in a fresh ``python -I -S``, as the hook does."""
    from gitboard.store.hooks import package_root

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
            "import gitboard.store.hooks, gitboard.store.receive; print(time.perf_counter() - t)")
    times = []
    for _ in range(n):
        p = subprocess.run([sys.executable, "-I", "-S", "-c", code, package_root()], env=env,
                           capture_output=True, text=True, check=True)
        times.append(float(p.stdout))
    return statistics.median(times)


def history(root: Path, commits: int) -> Path:
    path = root / "history"
    path.mkdir()
    git(path, "init", "-q", "--template=")
    with BoardRepo(path) as r:
        init(r, actor="lead", team_name="bench")
        for name in ("alice", "bob", "carol"):
            transact(r, partial(roster_ops.add_member, actor="lead", name=name))
        k, tid = 4, 0
        while k < commits:
            who = ("alice", "bob", "carol")[tid % 3]
            tid = transact(r, partial(task_ops.add, actor="lead", subject=f"t{tid + 1}")).id
            transact(r, partial(task_ops.claim, actor=who, task_id=tid, lease=600))
            transact(r, partial(task_ops.finish, actor=who, task_id=tid, ok=True, result={"n": tid}))
            transact(r, partial(inbox_ops.send, sender=who, to="lead", content=f"did {tid}", msg_id=f"m{tid}"))
            k += 4
            if tid % 5 == 0:
                transact(r, partial(inbox_ops.drain, name="lead"))
                k += 1
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer claims and a shorter history")
    args = ap.parse_args()
    n_claims, n_commits, big = (10, 500, 1000) if args.quick else (30, 2000, 10_000)
    os.environ.update(ENV)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the hook (and its server) as a user's machine runs them
    root = Path(tempfile.mkdtemp(prefix="gitboard-bench-hook-"))
    ok = True
    try:
        times = claim_times(root, n_claims, n_claims * 3 + 10)
        med = {k: statistics.median(v) for k, v in times.items()}
        added, added_own = med["served"] - med["plain"], med["own"] - med["plain"]
        big_times = claim_times(root, n_claims, big, no_server=False, tag="-big")
        big_med = {k: statistics.median(v) for k, v in big_times.items()}
        added_big = big_med["served"] - big_med["plain"]
        hook_served = hook_run_time(root, 15, "served")
        hook_alone = hook_run_time(root, 15, "own")
        py = python_start(15)
        py_isolated = python_start(15, "-I", "-S")
        imports = import_time(15)
        path = history(root, n_commits)
        with BoardRepo(path) as r:
            start = time.perf_counter()
            report, _ = check_range(r, None, r.tip())
            inproc = time.perf_counter() - start
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        exe = Path(sys.executable).parent / "gitboard"
        subprocess.run([str(exe), "verify"], cwd=path, env=env, capture_output=True)  # byte-compile once
        start = time.perf_counter()
        p = subprocess.run([str(exe), "verify", "--json"], cwd=path, env=env, capture_output=True, text=True)
        cli = time.perf_counter() - start
        if p.returncode != 0 or report.violations:
            print(f"verify found violations in a clean history: {p.stdout[:500]}")
            ok = False
        rate_in, rate_cli = report.commits / inproc, report.commits / cli
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, git {git(root, 'version')[12:]}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'figure':64} {'value':>12}  target")
        rows = [
            (f"claim through transact, hook as installed (median of {n_claims})", f"{med['served'] * 1000:.1f} ms", ""),
            (f"claim through transact, hook --no-server (median of {n_claims})", f"{med['own'] * 1000:.1f} ms", ""),
            (f"claim through transact, no hook (median of {n_claims})", f"{med['plain'] * 1000:.1f} ms", ""),
            ("time the hook adds to one claim push (difference)", f"{added * 1000:.1f} ms",
             ("PASS" if added <= 0.050 else "MISS") + " <= 50 ms"),
            ("  ... with --no-server (the hook's own process)", f"{added_own * 1000:.1f} ms", ""),
            (f"time the hook adds at {big:,} tasks (as installed)", f"{added_big * 1000:.1f} ms",
             ("PASS" if added_big <= 0.050 else "MISS") + " <= 50 ms"),
            ("the hook script alone on one claim, served (median of 15)", f"{hook_served * 1000:.1f} ms", ""),
            ("the hook script alone on one claim, --no-server (median of 15)", f"{hook_alone * 1000:.1f} ms", ""),
            ("  python start-up as the hook does it, `python -I -S -c pass`", f"{py_isolated * 1000:.1f} ms", ""),
            ("  importing gitboard's hook modules (in a fresh -I -S python)", f"{imports * 1000:.1f} ms", ""),
            ("  the rest: sh, git rev-parse + config, reading, the rules",
             f"{(hook_alone - py_isolated - imports) * 1000:.1f} ms", ""),
            ("  (plain `python -c pass` in this venv, for comparison)", f"{py * 1000:.1f} ms", ""),
            (f"verify in-process, {report.commits} commits", f"{rate_in:,.0f} c/s",
             ("PASS" if rate_in >= 500 else "MISS") + " >= 500/s"),
            (f"gitboard verify --json (console script), {report.commits} commits", f"{rate_cli:,.0f} c/s",
             ("PASS" if rate_cli >= 500 else "MISS") + " >= 500/s"),
        ]
        for name, value, target in rows:
            print(f"{name:64} {value:>12}  {target}")
        ok = ok and added <= 0.050 and added_big <= 0.050 and rate_cli >= 500
    finally:
        shutil.rmtree(root, ignore_errors=True)
        stop_server()
    return 0 if ok else 1


def stop_server() -> None:
    """Stop the hook server this run started (for this installation), so the next run starts cold."""
    import signal
    import socket

    from gitboard.hook.entry import server_name
    from gitboard.store.hooks import package_root

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(server_name(sys.executable, package_root(), os.getuid()))
        pid = int.from_bytes(s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[:4], sys.byteorder)
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
