#!/usr/bin/env python3
"""gitboard benchmark: merge-queue throughput with a no-op check.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench_merge.py            # 60 tasks locally, 30 through a bare remote
    .venv/bin/python bench/bench_merge.py --quick    # 20 and 10

For each setting it builds a fresh repository whose board holds N completed tasks, each
with its own commit on ``task/<id>`` (one new file), then times one run of the queue,
:func:`gitboard.merge_queue.queue.run_queue` -- in-process, so interpreter start-up is not
what is timed -- from its start until every task is merged. Per merge that is a
``git merge-tree --write-tree``, a merge commit, the check (``true``) in a temporary
detached worktree of that commit, and the atomic move of base and board (one
``git update-ref --stdin`` transaction locally, one ``git push --atomic`` in remote mode).
The local runs have ``main`` checked out in the project, so each merge also brings the
checkout along. It prints merges/s next to the target (at least 5 merges/s locally with
the no-op check) and exits 1 if it is missed. A script, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

IDENT = ("-c", "user.name=Bench", "-c", "user.email=bench@example.invalid")
TARGET_LOCAL = 5.0


def git(cwd: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})})
    if p.returncode != 0:
        sys.exit(f"bench: git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode().strip()


def setup(root: Path, n: int, remote: bool) -> Path:
    """A project on main with a board of ``n`` completed tasks, each with a commit on task/<id>."""
    from gitboard.board import task_ops
    from gitboard.store.repo import BoardRepo
    from gitboard.store.setup import init
    from gitboard.store.transact import transact

    project = root / "project"
    project.mkdir(parents=True)
    git(project, "init", "-q", "-b", "main")
    (project / "README").write_text("bench\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    if remote:
        bare = root / "remote.git"
        git(root, "init", "-q", "--bare", "-b", "main", str(bare))
        git(project, "remote", "add", "origin", str(bare))
        git(project, "push", "-q", "origin", "main")
    git(project, "config", "gitboard.review", "none")
    main = git(project, "rev-parse", "main")
    index = project / ".git" / "bench-index"
    env = {"GIT_INDEX_FILE": str(index)}
    with BoardRepo(project) as repo:
        init(repo, actor="lead", team_name="bench", **({"remote": "origin"} if remote else {}))
        transact(repo, partial(task_ops.import_tasks, actor="lead",
                               items=[{"subject": f"part {i}"} for i in range(1, n + 1)]))
        for i in range(1, n + 1):
            git(project, "read-tree", main, env=env)
            blob = git(project, "hash-object", "-w", "--stdin", input=f"{i}\n".encode())
            git(project, "update-index", "--add", "--cacheinfo", f"100644,{blob},part{i}.txt", env=env)
            tree = git(project, "write-tree", env=env)
            commit = git(project, "commit-tree", tree, "-p", main, "-m", f"task #{i}: part {i}")
            git(project, "update-ref", f"refs/heads/task/{i}", commit)
        index.unlink(missing_ok=True)
        if remote:
            git(project, "push", "-q", "origin", *[f"task/{i}" for i in range(1, n + 1)])
        for i in range(1, n + 1):
            transact(repo, partial(task_ops.claim, actor="bench", task_id=i))
            transact(repo, partial(task_ops.finish, actor="bench", task_id=i, ok=True,
                                   result={"branch": f"task/{i}"}))
    return project


def measure(n: int, remote: bool, check: str) -> dict:
    from gitboard.merge_queue.queue import run_queue

    root = Path(tempfile.mkdtemp(prefix="gitboard-bench-merge-"))
    try:
        project = setup(root, n, remote)
        started = time.perf_counter()
        doc = run_queue(project, check=check)
        seconds = time.perf_counter() - started
        merged = len(doc["merged"])
        ref = "origin/main" if remote else "main"
        log = git(project, "log", "--first-parent", "--format=%s", ref).splitlines()
        return {"where": "bare remote" if remote else "local", "check": check or "(none)", "tasks": n,
                "merged": merged, "merge_commits": len(log) - 1, "seconds": round(seconds, 3),
                "merges_per_s": round(merged / seconds, 2) if seconds else None}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--quick", action="store_true", help="fewer tasks")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="gitboard-bench-home-"))
    os.environ.update({"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_CONFIG_GLOBAL": str(home / "gitconfig")})
    (home / "gitconfig").write_text("")
    n_local, n_remote = (20, 10) if args.quick else (60, 30)
    rows = [measure(n_local, False, "true"), measure(n_local, False, ""), measure(n_remote, True, "true")]
    shutil.rmtree(home, ignore_errors=True)
    local = rows[0]["merges_per_s"] or 0.0
    ok = local >= TARGET_LOCAL and all(r["merged"] == r["tasks"] == r["merge_commits"] for r in rows)
    if args.json:
        print(json.dumps({"rows": rows, "target_local_merges_per_s": TARGET_LOCAL, "ok": ok}))
        return 0 if ok else 1
    print(f"merge queue throughput -- {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{git(Path.cwd(), 'version')}")
    print(f"{'where':<12} {'check':<7} {'tasks':>5} {'merged':>6} {'commits':>7} {'seconds':>8} {'merges/s':>9}  target")
    for r in rows:
        target = f">= {TARGET_LOCAL:g}/s {'PASS' if local >= TARGET_LOCAL else 'MISS'}" if r is rows[0] else ""
        print(f"{r['where']:<12} {r['check']:<7} {r['tasks']:>5} {r['merged']:>6} {r['merge_commits']:>7} "
              f"{r['seconds']:>8.2f} {r['merges_per_s']:>9.2f}  {target}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
