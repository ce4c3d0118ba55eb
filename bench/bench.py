#!/usr/bin/env python3
"""gitboard benchmark: claims per second, list latency, duplicate claims.

Run it with the interpreter gitboard is installed in::

    .venv/bin/python bench/bench.py            # full run, about 2 minutes on 2 cores
    .venv/bin/python bench/bench.py --quick    # smaller boards and fewer claims, under a minute

It builds its own temporary repositories (removed afterwards unless ``--keep``)
and prints a table of figures with the targets and PASS/MISS:

- claims/s through the CLI (the console script ``gitboard task claim --next``)
  with 1 and with 16 local contenders, and with 4 clones of a bare remote
  (4 processes in each);
- claims/s through :func:`gitboard.store.transact.transact` itself in 16
  long-lived processes, so that interpreter start-up is not what is timed
  (target: at least 50/s);
- the raw ``git update-ref`` compare-and-swap rate with 1 and 16 processes,
  the physical reference for the two figures above;
- ``gitboard task list --ready --json`` wall time at 1,000 and 10,000 tasks:
  the cold first run (no parse cache) and the median of 5 warm runs, next to
  ``gitboard --version`` measured in the same run (targets at 10,000 tasks:
  at most 300 ms, and at most 150 ms more than ``--version``);
- duplicate claims, checked from the board, from the claim commits' trailers
  and from what the claimers were told (target: 0, always).

It is a script, not a test: nothing here asserts. The exit status is 1 if a
target is missed, so CI may run it if it wants to.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

def gitboard_exe() -> str:
    """Path of the ``gitboard`` console script next to this interpreter (else on PATH)."""
    exe = Path(sys.executable).parent / "gitboard"
    if exe.exists():
        return str(exe)
    found = shutil.which("gitboard")
    if not found:
        sys.exit("bench: cannot find the gitboard console script; run with the venv's python")
    return found


GITBOARD = gitboard_exe()
#: Environment of every command: no GITBOARD_* or GIT_* settings of the caller, no prompts, C locale.
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("GITBOARD_", "GIT_"))}
ENV.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GITBOARD_DEADLINE": "120"})


def sh(*args: str, cwd: Path | str | None = None, input: bytes | None = None, check: bool = True,
       stdout_to: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command, capture its output (stdout into the file ``stdout_to``, if given); raise
    with its stderr when ``check`` and it fails."""
    if stdout_to is not None:
        with open(stdout_to, "wb") as f:
            p = subprocess.run(list(args), cwd=cwd, input=input, stdout=f, stderr=subprocess.PIPE, env=ENV)
    else:
        p = subprocess.run(list(args), cwd=cwd, input=input, capture_output=True, env=ENV)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    return p


def gb(repo: Path, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``gitboard -C repo args...``."""
    return sh(GITBOARD, "-C", str(repo), *args, check=check, input=input)


def timed(fn: Callable[[], Any]) -> float:
    """Wall time of ``fn()`` in seconds."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes ``fn()`` ran and waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(fn)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def load() -> str:
    """The 1-minute load average against the number of cores, e.g. ``0.4 on 2 cores``."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


# -- building boards ----------------------------------------------------------

def import_tasks(repo: Path, n: int, tmp: Path) -> None:
    """Add ``n`` ready tasks to the board at ``repo`` with one ``gitboard task import`` (a pack)."""
    lines = [json.dumps({"subject": f"bench task {i}", "description": f"Benchmark task number {i}: do the thing, "
                         f"then write it up.\nSecond line of the description."}) for i in range(1, n + 1)]
    path = tmp / f"tasks-{n}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    gb(repo, "task", "import", str(path), "--json")


def new_board(tmp: Path, name: str, n_tasks: int) -> Path:
    """A fresh repository with an initialised board holding ``n_tasks`` ready tasks."""
    repo = tmp / name
    sh("git", "init", "-q", str(repo))
    gb(repo, "init", "--json")
    if n_tasks:
        import_tasks(repo, n_tasks, tmp)
    return repo


def new_remote_boards(tmp: Path, name: str, n_tasks: int, clones: int) -> tuple[Path, list[Path]]:
    """A bare remote with a board of ``n_tasks`` ready tasks, and ``clones`` clones that adopted it."""
    remote = tmp / f"{name}.git"
    sh("git", "init", "-q", "--bare", str(remote))
    paths = []
    for k in range(clones):
        clone = tmp / f"{name}-clone{k}"
        sh("git", "clone", "-q", str(remote), str(clone))
        gb(clone, "init", "--remote", "origin", "--json")
        if k == 0 and n_tasks:
            import_tasks(clone, n_tasks, tmp)
        paths.append(clone)
    return remote, paths


# -- verification -------------------------------------------------------------

def claim_commits(git_dir: Path) -> collections.Counter:
    """Count claim commits per task id on the board branch, read from the Gitboard-* trailers."""
    fmt = "%(trailers:key=Gitboard-Action,valueonly,separator=%x2c)%x1f%(trailers:key=Gitboard-Task,valueonly,separator=%x2c)"
    out = sh("git", "log", f"--format={fmt}", "gitboard", cwd=git_dir).stdout.decode()
    counts: collections.Counter = collections.Counter()
    for line in out.splitlines():
        action, _, task = line.partition("\x1f")
        if action.strip() == "claim":
            counts[int(task.strip())] += 1
    return counts


def verify(repo: Path, log_dir: Path, reported: list[int], expect: int) -> dict[str, Any]:
    """Check the claims of one run: every claim exactly once, on the board, in the log and as reported.

    Returns ``{"duplicates": int, "claimed": int, "ok": bool, "why": str}``; ``expect``
    is how many claims should have been made.
    """
    board = json.loads(gb(repo, "task", "list", "--json").stdout)
    taken = [t["id"] for t in board if t["status"] == "in_progress"]
    commits = claim_commits(log_dir)
    told = collections.Counter(reported)
    dup = max(sum(c - 1 for c in commits.values()), sum(c - 1 for c in told.values()))
    why = []
    if dup:
        why.append(f"{dup} duplicate claims")
    if len(taken) != expect:
        why.append(f"board shows {len(taken)} claimed tasks, expected {expect}")
    if sorted(commits) != sorted(taken):
        why.append("claim commits and board disagree")
    if sorted(told) != sorted(taken):
        why.append("what claimers were told and the board disagree")
    return {"duplicates": dup, "claimed": len(taken), "ok": not why, "why": "; ".join(why)}


# -- claims through the CLI ------------------------------------------------------

def cli_claims(contenders: list[tuple[Path, str]], limit: int | None = None) -> tuple[float, list[int], list[str]]:
    """Each (repo, name) contender loops ``gitboard task claim --next --as name`` in its own
    process until nothing is ready (or ``limit`` claims in all). Returns (seconds, claimed ids, errors)."""
    claimed: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def loop(repo: Path, name: str) -> None:
        while True:
            with lock:
                if limit is not None and len(claimed) >= limit:
                    return
            p = gb(repo, "task", "claim", "--next", "--as", name, "--json", check=False)
            if p.returncode == 4:
                return
            with lock:
                if p.returncode == 0:
                    claimed.append(json.loads(p.stdout)["id"])
                else:
                    errors.append(p.stderr.decode(errors="replace").strip())
                    return

    threads = [threading.Thread(target=loop, args=c) for c in contenders]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, claimed, errors


# -- long-lived workers ------------------------------------------------------------

def run_workers(argvs: list[list[str]]) -> tuple[float, list[dict]]:
    """Start one ``bench.py --worker ...`` process per argv, wait until all are ready, start
    them together, and return (seconds from go to the last one's end, their JSON reports)."""
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", *a], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=ENV) for a in argvs]
    for p in procs:
        line = p.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"worker failed to start: {line!r}")
    t0 = time.time()
    for p in procs:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate()
        reports.append(json.loads(out))
    return max(r["end"] for r in reports) - t0, reports


def worker_transact(repo: str, name: str) -> dict:
    """Loop ``transact(claim --next)`` until nothing is ready; report the ids claimed."""
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.board.errors import NotFound
    from gitboard.store.repo import BoardRepo
    from gitboard.store.transact import Stats, transact

    ids: list[int] = []
    attempts = 0
    error = None
    with BoardRepo(repo, offline=True) as r:
        _ready_go()
        while True:
            stats = Stats()
            try:
                task = transact(r, partial(task_ops.claim, actor=name, task_id=None), stats=stats)
            except NotFound:
                break
            except Exception as e:  # reported, not raised: the other workers' figures still count
                error = f"{type(e).__name__}: {e}"
                break
            attempts += stats.attempts
            ids.append(task.id)
    return {"ids": ids, "attempts": attempts, "end": time.time(), "error": error}


def worker_cas(git_dir: str, ref: str, a: str, b: str, seconds: str) -> dict:
    """For ``seconds``, loop: read the tip of ``ref`` (its loose file), then
    ``git update-ref ref <other> <tip>`` between commits ``a`` and ``b``. Report wins and attempts."""
    path = Path(git_dir, ref)
    env = {**ENV, "GIT_DIR": git_dir}
    wins = attempts = 0
    _ready_go()
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            tip = path.read_text().strip()
        except OSError:  # between git's unlink and rename? never with update-ref, but be safe
            continue
        new = a if tip == b else b
        attempts += 1
        p = subprocess.run(["git", "update-ref", ref, new, tip], capture_output=True, env=env)
        wins += p.returncode == 0
    return {"wins": wins, "attempts": attempts, "end": time.time()}


def _ready_go() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()


def worker_main(argv: list[str]) -> None:
    kind, *args = argv
    report = {"transact": worker_transact, "cas": worker_cas}[kind](*args)
    sys.stdout.write(json.dumps(report) + "\n")


# -- the benchmark --------------------------------------------------------------

class Table:
    """Rows of (figure, value, target, status), printed as they come and again at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        status = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((figure, value, target, status))
        print(f"  {figure}: {value}" + (f"   [{target}: {status}]" if target else ""), flush=True)

    def render(self) -> str:
        head = ("figure", "value", "target", "")
        w = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        lines = [" | ".join(c.ljust(w[i]) for i, c in enumerate(head)).rstrip(),
                 "-+-".join("-" * x for x in w)]
        lines += [" | ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in self.rows]
        return "\n".join(lines)

    def missed(self) -> list[str]:
        return [r[0] for r in self.rows if r[3] == "MISS"]


def bench_cli(tab: Table, tmp: Path, quick: bool) -> None:
    n_ready = 200
    one_limit = 20 if quick else 60
    print(f"CLI claims: 1 contender ({one_limit} claims of {n_ready} ready tasks)", flush=True)
    repo = new_board(tmp, "cli1", n_ready)
    secs, ids, errors = cli_claims([(repo, "w0")], limit=one_limit)
    v = verify(repo, repo, ids, len(ids))
    tab.add("CLI claims/s, 1 contender", f"{len(ids) / secs:.1f}/s ({len(ids)} in {secs:.1f} s)")
    dup_row(tab, "1 CLI contender", v, errors)

    n16 = 64 if quick else n_ready
    print(f"CLI claims: 16 contenders, {n16} ready tasks", flush=True)
    repo = new_board(tmp, "cli16", n16)
    secs, ids, errors = cli_claims([(repo, f"w{i}") for i in range(16)])
    v = verify(repo, repo, ids, n16)
    tab.add("CLI claims/s, 16 contenders", f"{len(ids) / secs:.1f}/s ({len(ids)} in {secs:.1f} s)")
    dup_row(tab, "16 CLI contenders", v, errors)

    nr = 32 if quick else n_ready
    print(f"CLI claims: 4 clones of a bare remote x 4 processes, {nr} ready tasks", flush=True)
    remote, clones = new_remote_boards(tmp, "remote", nr, 4)
    secs, ids, errors = cli_claims([(c, f"c{k}w{i}") for k, c in enumerate(clones) for i in range(4)])
    v = verify(clones[0], remote, ids, nr)
    tab.add("CLI claims/s, 4 clones x 4 (remote)", f"{len(ids) / secs:.1f}/s ({len(ids)} in {secs:.1f} s)")
    dup_row(tab, "4 clones x 4 contenders", v, errors)


def dup_row(tab: Table, what: str, v: dict, errors: list[str]) -> None:
    detail = f"{v['duplicates']} ({v['claimed']} claimed"
    detail += f"; {v['why']}" if v["why"] else ""
    detail += f"; {len(errors)} errors: {errors[0]}" if errors else ""
    tab.add(f"duplicate claims, {what}", detail + ")", "0, all claimed once", v["ok"] and not errors)


def bench_transact(tab: Table, tmp: Path, quick: bool) -> None:
    n = 200 if quick else 600
    print(f"transact() claims: 16 long-lived processes, {n} ready tasks", flush=True)
    repo = new_board(tmp, "transact16", n)
    secs, reports = run_workers([["transact", str(repo), f"p{i}"] for i in range(16)])
    ids = [i for r in reports for i in r["ids"]]
    attempts = sum(r["attempts"] for r in reports)
    v = verify(repo, repo, ids, n)
    errors = [r["error"] for r in reports if r["error"]]
    rate = len(ids) / secs
    tab.add("transact() claims/s, 16 processes", f"{rate:.1f}/s ({len(ids)} in {secs:.2f} s, "
            f"{attempts / max(len(ids), 1):.2f} attempts/claim)", ">= 50/s", rate >= 50)
    dup_row(tab, "16 transact() processes", v, errors)


def bench_cas(tab: Table, tmp: Path, quick: bool) -> None:
    seconds = 1.0 if quick else 3.0
    print(f"raw git update-ref compare-and-swap, {seconds:.1f} s each", flush=True)
    repo = tmp / "cas"
    sh("git", "init", "-q", str(repo))
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    sh("git", *ident, "commit", "-q", "--allow-empty", "-m", "a", cwd=repo)
    a = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.decode().strip()
    sh("git", *ident, "commit", "-q", "--allow-empty", "-m", "b", cwd=repo)
    b = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.decode().strip()
    ref = "refs/heads/cas"
    sh("git", "update-ref", ref, a, cwd=repo)
    git_dir = str(repo / ".git")
    for procs in (1, 16):
        secs, reports = run_workers([["cas", git_dir, ref, a, b, str(seconds)] for _ in range(procs)])
        wins = sum(r["wins"] for r in reports)
        attempts = sum(r["attempts"] for r in reports)
        tab.add(f"raw update-ref CAS/s, {procs} process{'es' if procs > 1 else ''}",
                f"{wins / secs:.0f}/s won ({attempts / secs:.0f}/s tried)")


def bench_list(tab: Table, tmp: Path, quick: bool) -> None:
    sizes = (1000, 10000)
    runs = 5
    for n in sizes:
        print(f"task list --ready --json at {n} tasks", flush=True)
        repo = new_board(tmp, f"list{n}", n)
        # a few claims on top of the imported pack, as on a board in use
        for i in range(3):
            gb(repo, "task", "claim", "--next", "--as", f"w{i}", "--json")
        expect = n - 3
        cache = repo / ".git" / "gitboard" / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        out = tmp / f"list{n}.json"
        cold = timed_list(repo, out, expect)
        warm, version = [], []
        for _ in range(runs):  # interleaved, so that both see the same machine
            version.append(timed_cpu(lambda: sh(GITBOARD, "-C", str(repo), "--version", stdout_to=out)))
            warm.append(timed_list(repo, out, expect))
        gb(repo, "task", "claim", "--next", "--as", "late", "--json")
        after_claim = timed_list(repo, out, expect - 1)
        med, ver = statistics.median(w for w, _ in warm), statistics.median(w for w, _ in version)
        med_cpu, ver_cpu = statistics.median(c for _, c in warm), statistics.median(c for _, c in version)

        def ms(wall: float, cpu: float | None = None) -> str:
            return f"{wall * 1000:.0f} ms" + (f" (cpu {cpu * 1000:.0f} ms)" if cpu is not None else "")

        tab.add(f"gitboard --version, median of {runs} (next to the {n} list)", ms(ver, ver_cpu))
        tab.add(f"task list --ready --json, {n} tasks, cold (no cache)", ms(*cold))
        if n == 10000:
            tab.add(f"task list --ready --json, {n} tasks, warm, median of {runs}", ms(med, med_cpu),
                    "<= 300 ms", med <= 0.300)
            tab.add("  ... minus gitboard --version", ms(med - ver, med_cpu - ver_cpu), "<= 150 ms", med - ver <= 0.150)
        else:
            tab.add(f"task list --ready --json, {n} tasks, warm, median of {runs}", ms(med, med_cpu))
        tab.add(f"task list --ready --json, {n} tasks, right after a claim", ms(*after_claim))


def timed_list(repo: Path, out: Path, expect: int) -> tuple[float, float]:
    """Time ``gitboard task list --ready --json > out`` (wall and CPU seconds), then check that it
    listed ``expect`` tasks. Only the command is timed, not reading or parsing its output."""
    with open(out, "wb") as f:
        def run() -> None:
            p = subprocess.run([GITBOARD, "-C", str(repo), "task", "list", "--ready", "--json"],
                               stdout=f, stderr=subprocess.PIPE, env=ENV)
            if p.returncode != 0:
                raise RuntimeError(f"task list failed: {p.stderr.decode(errors='replace').strip()}")
        took = timed_cpu(run)
    tasks = json.loads(out.read_bytes())
    if len(tasks) != expect:
        raise RuntimeError(f"task list --ready printed {len(tasks)} tasks, expected {expect}")
    return took


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (under a minute)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    ap.add_argument("--only", choices=("cli", "transact", "cas", "list"), action="append",
                    help="run only these parts (repeatable)")
    opts = ap.parse_args()
    parts = opts.only or ["list", "transact", "cas", "cli"]  # latency first, on a machine not yet warmed by us
    version = gb(Path.cwd(), "--version").stdout.decode().strip()
    git_version = sh("git", "--version").stdout.decode().strip()
    print(f"{version}; {git_version}; Python {platform.python_version()}; {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} cores{'; --quick' if opts.quick else ''}", flush=True)
    print(f"load average at start: {load()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="gitboard-bench-"))
    tab = Table()
    t0 = time.perf_counter()
    try:
        for part in parts:
            print(f"[{part}: load average {load()}]", flush=True)
            {"cli": bench_cli, "transact": bench_transact, "cas": bench_cas, "list": bench_list}[part](tab, tmp, opts.quick)
    finally:
        if opts.keep:
            print(f"repositories kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{tab.render()}\n\n(benchmark took {time.perf_counter() - t0:.0f} s; load average at the end: {load()})")
    if os.getloadavg()[0] > 2 * (os.cpu_count() or 1):
        print("warning: a high load average (ours included): if other work ran, wall times are inflated (see the cpu figures)")
    missed = tab.missed()
    if missed:
        print("missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
