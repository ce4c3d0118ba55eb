"""``gitboard demo``: the main job, offline and with no key, in a new temporary directory.

It sets up, under ``<tmp>/gitboard-demo-XXXX/``:

- ``project/`` -- a small real project (a data generator, a summariser, a
  test and a report script), committed on ``main``, with the board;
- ``remote.git`` -- a bare repository, the team's shared remote (board and
  task branches travel through it);
- ``alice/`` and ``bob/`` -- two clones of the remote, one per teammate, as if
  on two machines; each runs ``gitboard spawn NAME --agent shell``;
- a board of five tasks with dependencies and real ``run`` commands::

      #1 generate numbers   #2 generate words
      #3 summarise numbers (after #1)
      #4 test the data (after #2, #3)   -- needs both branches' files merged in
      #5 write the report (after #4)

It shows the board live until every task is done, asks both teammates to shut
down through the protocol, and prints the claim history from ``git log``. Then
the lead approves the five tasks and the merge queue (``gitboard merge``, with a
check that compiles the project's scripts in each merge commit) delivers them,
blockers first, into ``main`` on the remote; the demo prints ``git log
--first-parent --oneline origin/main`` and the report the last task wrote, and
leaves the directory for inspection. The last
line of its output is the path of ``project/``, where ``gitboard task list``
shows the finished board. Every commit works with no git identity configured.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from gitboard.board import protocol_ops, task_ops
from gitboard.board.errors import Invalid
from gitboard.board.task import COMPLETED, FAILED, MERGED
from gitboard.board.text import safe
from gitboard.store import git as gitcmd
from gitboard.proc import end_process_group, pid_alive
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init as init_board
from gitboard.client import BoardClient

#: Seconds the demo waits for the board to finish before giving up.
DEADLINE = 120.0
TEAMMATES = ("alice", "bob")

GEN_PY = '''"""Generate the demo's sample data: numbers or words, one per line (seeded, so repeatable)."""
import random
import sys

kind, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(4)
WORDS = ["git", "board", "task", "claim", "lease", "merge", "branch", "commit", "team", "agent"]
for _ in range(count):
    print(rng.randint(1, 1000) if kind == "numbers" else rng.choice(WORDS))
'''

STATS_PY = '''"""Summarise data/numbers.txt: count, min, max and mean, one "key value" per line."""
import statistics

nums = [int(line) for line in open("data/numbers.txt")]
print(f"count {len(nums)}")
print(f"min {min(nums)}")
print(f"max {max(nums)}")
print(f"mean {statistics.mean(nums):.2f}")
'''

CHECK_PY = '''"""A small test over the generated data and its summary (task #4); writes data/checked.txt."""
nums = [int(line) for line in open("data/numbers.txt")]
words = [line.strip() for line in open("data/words.txt")]
stats = dict(line.split() for line in open("data/numbers.stats"))
assert len(nums) == int(stats["count"]) == 500, "the summary does not match the numbers"
assert min(nums) == int(stats["min"]) and max(nums) == int(stats["max"]), "min/max disagree"
assert all(1 <= n <= 1000 for n in nums), "a number is out of range"
assert len(words) == 200 and all(w.isalpha() for w in words), "bad words"
line = f"checked: {len(nums)} numbers and {len(words)} words, summary consistent"
open("data/checked.txt", "w").write(line + "\\n")
print(line)
'''

REPORT_PY = '''"""Write the report (task #5) from the data, its summary and the check."""
import collections

stats = dict(line.split() for line in open("data/numbers.stats"))
words = collections.Counter(line.strip() for line in open("data/words.txt"))
print("# Demo report")
print()
print(f"- numbers: {stats['count']}, min {stats['min']}, max {stats['max']}, mean {stats['mean']}")
print("- most common words: " + ", ".join(f"{w} ({n})" for w, n in words.most_common(3)))
print("- " + open("data/checked.txt").read().strip())
'''

README_MD = """# demo project

A small project worked on by two gitboard teammates. Each task's work is on its
branch `task/<id>` (pushed to the shared remote), and the merge queue merged every
task into `main`; `REPORT.md` came with task #5.
"""


def _python() -> str:
    exe = shutil.which("python3")
    return "python3" if exe else shlex.quote(sys.executable)


def demo_tasks(py: str) -> list[dict]:
    """Return the demo's tasks as ``gitboard task import`` items (ids 1-5 on an empty board)."""
    return [
        {"subject": "Generate the numbers", "description": "500 numbers into data/numbers.txt.",
         "run": f"mkdir -p data && {py} gen.py numbers 500 > data/numbers.txt && sleep 1 && wc -l data/numbers.txt"},
        {"subject": "Generate the words", "description": "200 words into data/words.txt.",
         "run": f"mkdir -p data && {py} gen.py words 200 > data/words.txt && sleep 1 && wc -l data/words.txt"},
        {"subject": "Summarise the numbers", "blockedBy": [1],
         "run": f"{py} stats.py > data/numbers.stats && cat data/numbers.stats"},
        {"subject": "Test the data", "blockedBy": [2, 3], "description": "Needs the work of #2 and #3 merged in.",
         "run": f"{py} check.py"},
        {"subject": "Write the report", "blockedBy": [4], "run": f"{py} report.py > REPORT.md && cat REPORT.md"},
    ]


class _Out:
    """Human output: rich on stdout (stderr in JSON mode)."""

    def __init__(self, json_mode: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=json_mode, highlight=False)

    def say(self, text: str = "", style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(safe(text, multiline=True), style=style or ""), soft_wrap=True)


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return gitcmd.run(str(cwd), args, env=env).stdout.decode(errors="replace").strip()


def _make_project(root: Path, out: _Out) -> tuple[Path, Path]:
    remote = root / "remote.git"
    project = root / "project"
    _git(root, "init", "-q", "--bare", str(remote))
    _git(root, "init", "-q", str(project))
    _git(project, "symbolic-ref", "HEAD", "refs/heads/main")
    for name, text in (("README.md", README_MD), ("gen.py", GEN_PY), ("stats.py", STATS_PY),
                       ("check.py", CHECK_PY), ("report.py", REPORT_PY)):
        (project / name).write_text(text)
    with BoardRepo(project) as repo:
        env = repo.identity_env("lead")
    _git(project, "add", "-A")
    _git(project, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "demo project", env=env)
    _git(project, "remote", "add", "origin", str(remote))
    _git(project, "push", "-q", "origin", "main")
    _git(remote, "symbolic-ref", "HEAD", "refs/heads/main")
    out.say(f"project    {project}  (main: gen.py, stats.py, check.py, report.py)")
    out.say(f"remote     {remote}  (bare, shared by the team)")
    return project, remote


def _render(board: Any, elapsed: float) -> Any:
    """The demo's live board: ``task list``'s table with each task's commit, and the roster."""
    from rich.console import Group

    from gitboard.board.clock import utcnow
    from gitboard.cli import render

    table = render.task_table(board, (board.tasks[i] for i in sorted(board.tasks)), utcnow(),
                              columns=("id", "state", "owner", "blockedBy", "subject", "commit"),
                              title=f"board {board.team.team_name!r} -- {elapsed:4.1f} s", fold=False)
    return Group(table, render.team_line(board))


def _watch(project: Path, out: _Out, started: float, live: bool) -> Any:
    """Show the board until every task is completed (or one failed, or the deadline); return the last board."""
    def done(board: Any) -> bool:
        return bool(board.tasks) and all(t.status in (COMPLETED, FAILED) for t in board.tasks.values())

    def read() -> Any:
        with BoardRepo(project) as repo:
            return read_board(repo)

    board = read()
    if not live:
        while not done(board) and time.monotonic() - started < DEADLINE:
            time.sleep(0.3)
            board = read()
        return board
    from rich.live import Live

    with Live(_render(board, 0.0), console=out.console, refresh_per_second=8, transient=False) as view:
        while not done(board) and time.monotonic() - started < DEADLINE:
            time.sleep(0.25)
            board = read()
            view.update(_render(board, time.monotonic() - started))
        view.update(_render(board, time.monotonic() - started))
    return board


def _stop_teammates(project: Path, pids: dict[str, int], out: _Out) -> None:
    """Ask every teammate to shut down (the shutdown protocol), then wait for the processes."""
    from gitboard.runtime.port import new_id

    with BoardRepo(project) as repo:
        board = read_board(repo)
        for name in pids:
            member = board.team.member(name)
            if member is None or member.status == "shutdown":
                continue
            try:
                BoardClient(repo.cwd).apply(partial(protocol_ops.request_shutdown, sender="lead", to=name,
                                       request_id=new_id(), msg_id=new_id(), reason="the demo is over"), repo=repo)
            except Exception as e:  # already shut down meanwhile
                out.say(f"  (no shutdown request for {name}: {e})", "dim")
    limit = time.monotonic() + 15
    while time.monotonic() < limit and any(pid_alive(p) for p in pids.values()):
        time.sleep(0.1)
    for name, pid in pids.items():
        if pid_alive(pid):
            out.say(f"  {name} did not stop in time; ending its process", "yellow")
            end_process_group(pid)


def _merge_all(project: Path, out: _Out) -> dict:
    """Approve every completed task as the lead, run the merge queue once, bring the project's
    ``main`` along, and print ``git log --first-parent --oneline origin/main``; returns the
    queue's ``--json`` document."""
    from gitboard.store.review import approve_task
    from gitboard.merge_queue.queue import run_queue

    with BoardRepo(project) as repo:
        for task in sorted(read_board(repo).tasks.values(), key=lambda t: t.id):
            if task.status == COMPLETED:
                approve_task(repo, "lead", task.id, note="demo")
    out.say()
    check = f"{_python()} -m py_compile gen.py stats.py check.py report.py"
    out.say("The lead approves the five tasks; the merge queue merges them, blockers first:", "bold")
    out.say(f"$ gitboard merge --check {shlex.quote(check)}", "dim")
    doc = run_queue(project, check=check, log=lambda line: out.say("  " + line))
    _git(project, "merge", "-q", "--ff-only", "origin/main")  # the lead's checkout of main, clean: along it comes
    out.say()
    out.say("$ git log --first-parent --oneline origin/main", "dim")
    for line in _git(project, "log", "--first-parent", "--oneline", "origin/main").splitlines():
        out.say("  " + line)
    return doc


def run_demo(parent: str | None = None, json_mode: bool = False) -> dict:
    """Run the demo (see the module docstring) and return ``{"ok", "path", "root", "seconds", "tasks",
    "merge"}`` (``merge``: the merge queue's ``--json`` document).

    Human output goes to stdout (stderr in ``json_mode``); its last line is the project's path.

    Raises:
        Invalid: ``parent`` is not a directory one can write in.
        GitFailure: git is missing or failed while setting up.
    """
    from gitboard.runtime.process import spawn

    started = time.monotonic()
    out = _Out(json_mode)
    try:
        root = Path(tempfile.mkdtemp(prefix="gitboard-demo-", dir=parent)).resolve()
    except OSError as e:
        raise Invalid(f"cannot make the demo's directory under {parent or tempfile.gettempdir()}: "
                      f"{e.strerror}") from None
    out.say(f"gitboard demo in {root}", "bold")
    project, remote = _make_project(root, out)
    with BoardRepo(project) as repo:
        init_board(repo, actor="lead", team_name="demo", remote="origin")
        tasks = BoardClient(repo.cwd).apply(partial(task_ops.import_tasks, actor="lead", items=demo_tasks(_python())), repo=repo)
    out.say(f"board      {len(tasks)} tasks with dependencies and run commands, on branch gitboard")

    pids: dict[str, int] = {}
    try:
        for name in TEAMMATES:
            clone = root / name
            _git(root, "clone", "-q", str(remote), str(clone))
            with BoardRepo(clone) as repo:
                init_board(repo, actor=name, team_name="demo", remote="origin")
                spawned = spawn(repo, name, ["--agent", "shell", "--poll", "0.3", "--idle-timeout", "30",
                                             "--lease", "60"])
            pids[name] = spawned.pid
            out.say(f"teammate   {name}: clone {clone}, pid {spawned.pid}, shell agent")
        out.say()
        live = not json_mode and out.console.is_terminal
        board = _watch(project, out, started, live)
        if not live and not json_mode:
            out.console.print(_render(board, time.monotonic() - started))
        ok = bool(board.tasks) and all(t.status == COMPLETED for t in board.tasks.values())
        _stop_teammates(project, pids, out)
    finally:  # an error or Ctrl-C must not leave teammates running
        for pid in pids.values():
            if pid_alive(pid):
                end_process_group(pid)
    seconds = time.monotonic() - started

    _git(project, "fetch", "-q", "origin")
    out.say()
    cmd = ["log", "--reverse", "--date=format:%H:%M:%S", "--format=%ad  %s", "-E",
           "--grep=^Gitboard-Action: (claim|done|fail)$", "gitboard"]
    out.say("The claim history, from git log:", "bold")
    out.say("$ git " + " ".join(shlex.quote(a) for a in cmd), "dim")
    for line in _git(project, *cmd).splitlines():
        out.say("  " + line)
    last = max(board.tasks) if board.tasks else None
    merged: dict = {"merged": [], "rework": [], "waiting": []}
    if ok:
        merged = _merge_all(project, out)
        with BoardRepo(project) as repo:
            board = read_board(repo)
        ok = all(t.status == MERGED for t in board.tasks.values())
        seconds = time.monotonic() - started
    if ok and last is not None:
        report = subprocess.run(["git", "show", "origin/main:REPORT.md"], cwd=project, capture_output=True, text=True)
        if report.returncode == 0:
            out.say()
            out.say(f"REPORT.md on main, written by task #{last}:", "bold")
            for line in report.stdout.rstrip().splitlines():
                out.say("  " + line)
    out.say()
    if ok:
        out.say(f"All {len(board.tasks)} tasks done by {' and '.join(TEAMMATES)} and merged into main in "
                f"{seconds:.1f} s. Look around:", "bold green")
    else:
        bad = [f"#{t.id} {t.status}" for t in board.tasks.values() if t.status != MERGED]
        out.say(f"The demo did not finish ({', '.join(bad)}); the teammates' logs: gitboard -C "
                f"{root / 'alice'} logs alice, gitboard -C {root / 'bob'} logs bob", "bold red")
    out.say(f"  cd {project}")
    out.say("  gitboard task list; gitboard log; gitboard team; gitboard review 5")
    out.say("  git log --oneline --graph main")
    doc = {"ok": ok, "path": str(project), "root": str(root), "seconds": round(seconds, 2),
           "tasks": [board.tasks[i].to_json() for i in sorted(board.tasks)], "merge": merged}
    if json_mode:
        return doc
    sys.stdout.flush()
    out.console.file.flush()
    print(str(project), flush=True)
    return doc


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run_demo(json_mode=True)))
