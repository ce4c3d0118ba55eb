#!/usr/bin/env python3
"""gitboard scale benchmark: a board whose writes cost what changed, not its size.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/scale.py            # full run, a few minutes on 2 cores
    .venv/bin/python bench/scale.py --quick    # no 100,000-task board, fewer repetitions
    .venv/bin/python bench/scale.py --quick --only startup,drains   # some parts, while iterating

It builds its own temporary repositories (removed afterwards unless ``--keep``)
and prints every scale target side by side with PASS/MISS:

- a claim through :func:`gitboard.store.transact.transact` in a long-lived process
  at 10,000 tasks against the same at 100 tasks (at most 1.5x);
- the new objects a claim adds at 10,000 tasks, as stored on disk
  (``git rev-list --objects NEW --not OLD | git cat-file --batch-check='%(objectsize:disk)'``;
  at most 8 KB);
- ``gitboard task list --ready --json`` at 10,000 tasks against ``gitboard --version``
  (at most 1.5x), with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` unset, as a
  user has it) in this editable install and in a regular ``pip install .`` made in a
  temporary virtual environment (``--no-deps``; the dependencies come from this
  interpreter's site-packages through a ``.pth`` file), and with
  ``PYTHONDONTWRITEBYTECODE=1`` as on the development machines; and, for information,
  the first listing after another process's claim moved the board (it makes that
  tree's listing index, :mod:`gitboard.store.list_index`, from the previous one; the
  figures above list a board listed before, as a warm-up run);
- at 100,000 tasks: ``gitboard task import`` (at most 60 s), ``task list --ready
  --json`` (at most 1 s) and a claim through ``transact()`` in a long-lived process
  (at most 50 ms);
- a drain of 1,000 unread messages against a drain of 10, through ``transact()``
  in a long-lived process each, in alternating rounds (at most 2x), and
  ``gitboard inbox NAME --json`` for both;
- an idle ``gitboard spawn``'d teammate with ``--poll 60``: how long after a new task
  it claims it (at most 1 s) and its CPU while idle (at most 0.5% of a core).

Latencies are medians. Claims and drains run in a worker process per board
(``python bench/scale.py --worker ...``), so each figure is a long-lived process of
its own; the two boards of a comparison take turns, a few operations at a time. It is a script, not a test: nothing here asserts; the exit status is 1 if
a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ENV, GITBOARD, gb, import_tasks, load, sh, timed_cpu  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROWS: list[tuple[str, str, str, bool | None]] = []


def row(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
    """Record one line of the result table (and print it at once, for a long run)."""
    ROWS.append((figure, value, target, ok))
    mark = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"  {figure}: {value} {('[' + target + '] ' + mark) if target else ''}", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# -- boards ------------------------------------------------------------------------

def board_with(tmp: Path, name: str, n_tasks: int) -> tuple[Path, float]:
    """A repository with a base commit and a board of ``n_tasks`` ready tasks; returns (path, import seconds)."""
    repo = tmp / name
    sh("git", "init", "-q", "-b", "main", str(repo))
    # no automatic maintenance (gitboard/store/upkeep.py): a background git gc would run beside
    # the timed operations, on one of the machine's two cores
    sh("git", "config", "maintenance.auto", "false", cwd=repo)
    sh("git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q",
       "--allow-empty", "-m", "base", cwd=repo)
    gb(repo, "init", "--json")
    start = time.perf_counter()
    if n_tasks:
        import_tasks(repo, n_tasks, tmp)
    return repo, time.perf_counter() - start


def objects_added(repo: Path, old: str, new: str) -> int:
    """Stored (compressed) bytes of the objects ``new`` adds over ``old``."""
    ids = sh("git", "rev-list", "--objects", "--no-object-names", new, "--not", old, cwd=repo).stdout
    sizes = sh("git", "cat-file", "--batch-check=%(objectsize:disk)", cwd=repo, input=ids).stdout.split()
    return sum(int(s) for s in sizes)


# -- the worker: a long-lived process per board ------------------------------------

def worker(args: list[str]) -> None:
    """``--worker claims REPO FIRST N`` or ``--worker drain REPO N ROUNDS``: time operations
    through transact() in this process and print one JSON object."""
    from functools import partial

    from gitboard.board import inbox_ops, task_ops, roster_ops
    from gitboard.board.compose import sequence
    from gitboard.store.objects import PACK_THRESHOLD
    from gitboard.store.repo import BoardRepo
    from gitboard.store.transact import transact

    kind, repo_path = args[0], args[1]
    repo = BoardRepo(repo_path)
    if kind == "serve-claims":  # one line "K" on stdin -> K more claims, one JSON line out
        tid = int(args[2])
        transact(repo, partial(task_ops.claim, actor="alice", task_id=tid))  # warm: the first read
        for line in sys.stdin:
            times, cpus, tips = [], [], [repo.tip()]
            for _ in range(int(line)):
                tid += 1
                start, c0 = time.perf_counter(), _cpu()
                transact(repo, partial(task_ops.claim, actor="alice", task_id=tid))
                times.append(time.perf_counter() - start)
                cpus.append(_cpu() - c0)
                tips.append(repo.tip())
            print(json.dumps({"times": times, "cpus": cpus, "tips": tips}), flush=True)
    elif kind == "claims":
        first, n = int(args[2]), int(args[3])
        transact(repo, partial(task_ops.claim, actor="alice", task_id=first))  # warm: the first read
        times, tips = [], [repo.tip()]
        for tid in range(first + 1, first + 1 + n):
            start = time.perf_counter()
            transact(repo, partial(task_ops.claim, actor="alice", task_id=tid))
            times.append(time.perf_counter() - start)
            tips.append(repo.tip())
        print(json.dumps({"times": times, "tips": tips}))
    elif kind == "serve-drains":  # one line "K" on stdin -> K more rounds (send N, drain them), one JSON line out
        n = int(args[2])
        transact(repo, partial(roster_ops.add_member, actor="lead", name="alice"))
        r = 0

        # An inbox fills one send at a time, each a few loose objects. The sends go in commits of fewer
        # files than PACK_THRESHOLD: one commit of 1,000 would be a fast-import pack, and a pack per round
        # would leave the 1,000-message board with one more pack to search on every ref update than
        # the 10-message board, a cost of the filling, not of the drain.
        per_commit = PACK_THRESHOLD - 1

        def one_round() -> float:
            nonlocal r
            r += 1
            sends = [partial(inbox_ops.send, sender="lead", to="alice", content=f"message {i} of round {r}",
                             msg_id=f"r{r}m{i}") for i in range(n)]
            for first in range(0, n, per_commit):
                transact(repo, partial(sequence, ops=sends[first:first + per_commit]))
            start = time.perf_counter()
            got = transact(repo, partial(inbox_ops.drain, name="alice"))
            took = time.perf_counter() - start
            assert len(got) == n, len(got)
            return took

        one_round()  # warms the process
        for line in sys.stdin:
            print(json.dumps({"times": [one_round() for _ in range(int(line))]}), flush=True)
    repo.close()


def _cpu() -> float:
    """CPU seconds of this process and of the children it waited for (git update-ref)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_worker(*args: Any) -> dict:
    p = sh(sys.executable, str(Path(__file__).resolve()), "--worker", *map(str, args))
    return json.loads(p.stdout)


# -- measurements -------------------------------------------------------------------

def claims(tmp: Path, quick: bool) -> dict:
    """Claims at 100 and at 10,000 tasks, each board in a long-lived worker, in alternating
    rounds of 5 so that the machine's load weighs on both alike."""
    rounds = 4 if quick else 8
    boards = {size: board_with(tmp, f"claims-{size}", size)[0] for size in (100, 10_000)}
    workers = {size: subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "serve-claims",
                                       str(repo), "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env=ENV) for size, repo in boards.items()}
    got: dict[int, dict[str, list]] = {size: {"times": [], "cpus": [], "sizes": []} for size in boards}
    try:
        for _ in range(rounds):
            for size, w in workers.items():
                w.stdin.write("5\n")
                w.stdin.flush()
                res = json.loads(w.stdout.readline())
                got[size]["times"] += res["times"]
                got[size]["cpus"] += res["cpus"]
                got[size]["sizes"] += [objects_added(boards[size], a, b) for a, b in zip(res["tips"], res["tips"][1:])]
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait(60)
    med = {size: (statistics.median(g["times"]), statistics.median(g["cpus"]), statistics.median(g["sizes"]))
           for size, g in got.items()}
    (small, scpu, ssize), (big, bcpu, bsize) = med[100], med[10_000]
    n = len(got[100]["times"])
    row(f"claim through transact(), 100 tasks, median of {n}", f"{ms(small)} (cpu {ms(scpu)})")
    row(f"claim through transact(), 10,000 tasks, median of {n}", f"{ms(big)} (cpu {ms(bcpu)})",
        "<= 1.5x the 100-task claim", big <= 1.5 * small)
    row("... ratio", f"{big / small:.2f}x (cpu {bcpu / scpu:.2f}x)")
    row("new objects per claim, 10,000 tasks (stored size, median)", f"{bsize / 1024:.1f} KB", "<= 8 KB",
        bsize <= 8 * 1024)
    row("new objects per claim, 100 tasks", f"{ssize / 1024:.1f} KB")
    return {size: (med[size], boards[size]) for size in boards}


def cli_median(args: list[str], env: dict, n: int) -> tuple[float, float]:
    """Median (wall, cpu) seconds of ``n`` runs of ``args`` after one warm-up run."""
    subprocess.run(args, env=env, capture_output=True, check=True)
    runs = [timed_cpu(lambda: subprocess.run(args, env=env, capture_output=True, check=True)) for _ in range(n)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def regular_install(tmp: Path) -> Path:
    """A virtual environment with gitboard installed by ``pip install --no-deps .`` (no editable
    finder), its dependencies taken from this interpreter's site-packages; returns its console script."""
    venv = tmp / "venv-regular"
    sh(sys.executable, "-m", "venv", str(venv))
    py = venv / "bin" / "python"
    site = sh(str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.decode().strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "bench-deps.pth").write_text("\n".join(ours) + "\n")
    build = tmp / "src"
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                               ".ci-node", "node_modules"))
    sh(str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-cache-dir", str(build))  # builds with setuptools from PyPI
    where = sh(str(py), "-c", "import gitboard; print(gitboard.__file__)", cwd=tmp).stdout.decode().strip()
    if not where.startswith(str(venv)):
        raise RuntimeError(f"the regular install imports gitboard from {where}")
    return venv / "bin" / "gitboard"


def startup(tmp: Path, repo10k: Path, quick: bool) -> None:
    n = 5 if quick else 7
    user_env = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    dev_env = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    installs = [("editable", GITBOARD)]
    try:
        installs.append(("pip install .", str(regular_install(tmp))))
    except Exception as e:  # report, do not hide
        row("regular install", f"could not be made: {e}")
    for label, exe in installs:
        for mode, env in (("bytecode on", user_env), ("PYTHONDONTWRITEBYTECODE=1", dev_env)):
            if label != "editable" and mode != "bytecode on":
                continue
            version, vcpu = cli_median([exe, "--version"], env, n)
            listing, lcpu = cli_median([exe, "-C", str(repo10k), "task", "list", "--ready", "--json"], env, n)
            row(f"gitboard --version, {label}, {mode}", f"{ms(version)} (cpu {ms(vcpu)})")
            row(f"task list --ready --json, 10,000 tasks, {label}, {mode}", f"{ms(listing)} (cpu {ms(lcpu)})",
                "<= 1.5x --version", listing <= 1.5 * version)
            row("... ratio", f"{listing / version:.2f}x (cpu {lcpu / vcpu:.2f}x)")
    # what the figures above do not show: the first listing after the board moved (a claim by
    # another process) makes the tree's listing index from the parse cache
    user_env = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    firsts = []
    for k in range(n):
        sh(GITBOARD, "-C", str(repo10k), "task", "claim", str(9000 + k), "--as", "bob", "--json")
        firsts.append(timed_cpu(lambda: subprocess.run([GITBOARD, "-C", str(repo10k), "task", "list", "--ready",
                                                        "--json"], env=user_env, capture_output=True, check=True)))
    row(f"task list --ready --json, 10,000 tasks, first after a claim, editable, bytecode on, median of {n}",
        f"{ms(statistics.median(w for w, _ in firsts))} (cpu {ms(statistics.median(c for _, c in firsts))})")


def hundred_thousand(tmp: Path) -> None:
    repo, seconds = board_with(tmp, "board-100k", 100_000)
    row("task import of 100,000 tasks", f"{seconds:.1f} s", "<= 60 s", seconds <= 60)
    listing, cpu = cli_median([GITBOARD, "-C", str(repo), "task", "list", "--ready", "--json"], ENV, 3)
    row("task list --ready --json, 100,000 tasks, median of 3", f"{ms(listing)} (cpu {ms(cpu)})", "<= 1 s",
        listing <= 1.0)
    res = run_worker("claims", repo, 1, 20)
    claim = statistics.median(res["times"])
    row("claim through transact(), 100,000 tasks, median", ms(claim), "<= 50 ms", claim <= 0.050)
    sizes = [objects_added(repo, a, b) for a, b in zip(res["tips"], res["tips"][1:])]
    row("new objects per claim, 100,000 tasks", f"{statistics.median(sizes) / 1024:.1f} KB")


def drains(tmp: Path, quick: bool) -> None:
    """Drains of 10 and of 1,000 messages, each inbox in a long-lived worker, in alternating
    rounds of 3 (send, then drain what was sent) so that the machine's load weighs on both alike.
    The sends go in commits of fewer files than the pack threshold, loose objects as one send
    per commit leaves them (see the worker)."""
    rounds = 3 if quick else 6
    boards = {n: board_with(tmp, f"drain-{n}", 0)[0] for n in (10, 1000)}
    workers = {n: subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "serve-drains",
                                    str(repo), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env=ENV) for n, repo in boards.items()}
    times: dict[int, list[float]] = {n: [] for n in boards}
    try:
        for _ in range(rounds):
            for n, w in workers.items():
                w.stdin.write("3\n")
                w.stdin.flush()
                times[n] += json.loads(w.stdout.readline())["times"]
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait(60)
    got: dict[Any, float] = {n: statistics.median(t) for n, t in times.items()}
    for n, repo in boards.items():  # and as a user drains: one CLI call (the worker left the inbox empty)
        sh(sys.executable, "-c", _FILL, str(repo), str(n))
        wall, _ = timed_cpu(lambda: gb(repo, "inbox", "alice", "--json"))
        got[f"cli{n}"] = wall
    k = len(times[10])
    row(f"drain of 10 messages through transact(), median of {k}", ms(got[10]))
    row(f"drain of 1,000 messages through transact(), median of {k}", ms(got[1000]), "<= 2x the drain of 10",
        got[1000] <= 2 * got[10])
    row("... ratio", f"{got[1000] / got[10]:.2f}x")
    row("gitboard inbox alice --json: 10 / 1,000 messages", f"{ms(got['cli10'])} / {ms(got['cli1000'])}")


_FILL = """
import sys
from functools import partial
from gitboard.board import inbox_ops
from gitboard.board.compose import sequence
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
with BoardRepo(sys.argv[1]) as r:
    transact(r, partial(sequence, ops=[partial(inbox_ops.send, sender="lead", to="alice", content=f"m{i}",
                                               msg_id=f"cli{i}") for i in range(int(sys.argv[2]))]))
"""


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(tmp: Path, quick: bool) -> None:
    repo, _ = board_with(tmp, "idle", 0)
    env = {**ENV, "XDG_STATE_HOME": str(tmp / "state")}
    p = subprocess.run([GITBOARD, "-C", str(repo), "spawn", "alice", "--agent", "shell", "--poll", "60",
                        "--idle-timeout", "600", "--json"], env=env, capture_output=True, check=True)
    pid = json.loads(p.stdout)["pid"]
    log = Path(sh("git", "rev-parse", "--git-common-dir", cwd=repo).stdout.decode().strip())
    log = (repo / log if not log.is_absolute() else log) / "gitboard" / "logs" / "alice.log"
    try:
        _wait(lambda: log.exists() and "idle: polling" in log.read_text(), 60)
        time.sleep(1.0)
        span = 5.0 if quick else 15.0
        before, start = proc_cpu(pid), time.monotonic()
        time.sleep(span)
        share = (proc_cpu(pid) - before) / (time.monotonic() - start)
        row(f"idle teammate CPU over {span:.0f} s (--poll 60)", f"{share * 100:.2f}% of a core", "<= 0.5%",
            share <= 0.005)
        waits = []
        for k in range(1, (2 if quick else 4)):
            seen = log.read_text().count("claimed #")
            ref = repo / ".git" / "refs" / "heads" / "gitboard"
            old_tip = ref.read_text()
            adder = subprocess.Popen([GITBOARD, "-C", str(repo), "task", "add", f"wake up {k}", "--run", "true"],
                                     env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait(lambda: ref.read_text() != old_tip, 60, 0.002)
            start = time.monotonic()  # the add's commit has landed: the task is on the board
            _wait(lambda: log.read_text().count("claimed #") > seen, 60, 0.002)
            waits.append(time.monotonic() - start)
            adder.wait(60)
            _wait(lambda: f"done #{k}" in log.read_text() or f"failed #{k}" in log.read_text(), 60)
            time.sleep(1.0)  # back to idle
        worst = max(waits)
        row("idle teammate (--poll 60): task on the board to its claim, worst of "
            f"{len(waits)}", f"{worst * 1000:.0f} ms", "<= 1 s", worst <= 1.0)
    finally:
        subprocess.run([GITBOARD, "-C", str(repo), "stop", "alice", "--force"], env=env, capture_output=True)


def _wait(pred, timeout: float, interval: float = 0.1) -> None:
    limit = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > limit:
            raise RuntimeError("timed out")
        time.sleep(interval)


#: The parts of the run, in order (``--only``); the full run is all of them.
PARTS = ("claims", "startup", "drains", "idle", "100k")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="no 100,000-task board, fewer repetitions")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    ap.add_argument("--only", metavar="PARTS", default=",".join(PARTS),
                    help=f"comma-separated parts to run while iterating (default, every target: {','.join(PARTS)}; "
                         "startup builds its own 10,000-task board when claims does not run)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(PARTS):
        ap.error(f"unknown parts: {', '.join(sorted(only - set(PARTS)))}")
    tmp = Path(tempfile.mkdtemp(prefix="gitboard-scale-"))
    print(f"gitboard scale bench: python {sys.version.split()[0]}, {sh('git', '--version').stdout.decode().strip()}, "
          f"load average {load()} at the start; in {tmp}", flush=True)
    try:
        if "claims" in only:
            repo10k = claims(tmp, args.quick)[10_000][1]
        elif "startup" in only:
            repo10k = board_with(tmp, "claims-10000", 10_000)[0]
            run_worker("claims", repo10k, 1, 40)  # the claims part's 41 claims: the same board and cache
        if "startup" in only:
            startup(tmp, repo10k, args.quick)
        if "drains" in only:
            drains(tmp, args.quick)
        if "idle" in only:
            idle(tmp, args.quick)
        if not args.quick and "100k" in only:
            hundred_thousand(tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average {load()} at the end\n")
    width = max(len(f) for f, *_ in ROWS)
    for figure, value, target, ok in ROWS:
        mark = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{figure:<{width}}  {value:<28}  {target:<28}  {mark}")
    return 1 if any(ok is False for *_, ok in ROWS) else 0


if __name__ == "__main__":
    sys.exit(main())
