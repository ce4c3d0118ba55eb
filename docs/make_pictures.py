"""Make the pictures of the README and the docs site from gitboard itself.

Each picture is one function ``name(path)`` registered in :data:`PICTURES` under its file name
in ``docs/images/``; each builds what it shows from a real board in a temporary directory, made
by :func:`sample_board`. Run it with the interpreter gitboard is installed in::

    python docs/make_pictures.py              # every picture
    python docs/make_pictures.py watch.svg    # one

``watch.svg`` is ``gitboard watch --once`` on the sample board, recorded by rich's console
and exported with ``Console.export_svg``. ``web-board.png`` (with ``web-task.png`` and
``web-cost.png``) is ``gitboard serve`` on a board with a diff to review, a rework, costs and
a plan waiting, shot by headless Chromium: it needs ``pip install playwright`` and Debian's
``chromium`` on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Callable

IMAGES = Path(__file__).resolve().parent / "images"

#: the terminal the live view is drawn in, in columns and lines
WATCH_SIZE = (100, 24)


def _git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="lead", GIT_AUTHOR_EMAIL="lead@gitboard.invalid",
               GIT_COMMITTER_NAME="lead", GIT_COMMITTER_EMAIL="lead@gitboard.invalid")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _gitboard(cwd: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "gitboard", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def _usage(inp: int, out: int, cache_read: int = 0, cache_write: int = 0) -> dict:
    return {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write}


def _work(project: Path, task_id: int, file: str) -> dict:
    """Commit one file on ``task/<id>`` (off ``main``, no checkout) as a teammate's harness does;
    return the result's ``branch`` and ``commit``."""
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=project, input=f"{task_id}\n",
                          capture_output=True, text=True, check=True).stdout.strip()
    index = project / ".git" / f"pictures-index-{task_id}"
    env = dict(os.environ, GIT_INDEX_FILE=str(index))
    subprocess.run(["git", "read-tree", "main"], cwd=project, env=env, check=True)
    subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{file}"], cwd=project, env=env,
                   check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=project, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()
    index.unlink()
    commit = _git(project, "commit-tree", tree, "-p", "main", "-m", f"task #{task_id}")
    _git(project, "branch", f"task/{task_id}", commit)
    return {"branch": f"task/{task_id}", "commit": commit}


def sample_board(root: Path) -> Path:
    """Make a project with a board in the middle of a team's work under ``root``; return its path.

    The board holds the demo's five tasks and two more, in every state the live view shows:
    one merged by the merge queue, two completed (one approved, so queued, one waiting for
    review), one in progress with a ten-minute lease, two blocked and one failed on its budget; the roster has ``alice`` (working) and ``bob`` (idle), each with a log line.
    Results carry the usage and cost an agent CLI records.
    """
    from gitboard.client import BoardClient
    from gitboard.cli.demo import demo_tasks
    from gitboard.proc import this_host
    from gitboard.runtime.process import log_path

    project = root / "shop"
    project.mkdir()
    _git(project, "init", "-q", "-b", "main")
    (project / "README.md").write_text("# shop\n")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "--no-verify", "-m", "shop")
    _gitboard(project, "init")

    lead = BoardClient(project)
    tasks = demo_tasks("python3") + [
        {"subject": "Document the data format", "description": "docs/format.md"},
        {"subject": "Speed up the word generator", "run": "python3 gen.py words 100000 > /dev/null"},
    ]
    lead.import_tasks(tasks)
    alice, bob = lead.as_actor("alice"), lead.as_actor("bob")
    host = this_host()
    for mate in (alice, bob):
        mate.set_member(status="idle", host=host, pid=None)

    alice.claim(1, lease=600)
    alice.finish(1, True, {**_work(project, 1, "data/numbers.txt"), "summary": "500 numbers in data/numbers.txt",
                           "usage": _usage(8_210, 1_045, 41_300, 6_200), "cost_usd": 0.0731,
                           "models": ["claude-sonnet-5-5"], "agent": "claude"})
    lead.approve(1, note="looks right")
    _gitboard(project, "merge", "1")  # the merge queue: task/1 into main, the task marked merged
    bob.claim(2, lease=600)
    bob.finish(2, True, {**_work(project, 2, "data/words.txt"), "summary": "200 words in data/words.txt",
                         "usage": _usage(5_120, 730, 22_800, 4_100), "cost_usd": 0.0412,
                         "models": ["claude-sonnet-5-5"], "agent": "claude"})
    lead.approve(2)
    bob.claim(7, lease=600)
    bob.finish(7, False, {"reason": "budget: claude used $0.5012, past the task's $0.50 budget",
                          "usage": _usage(61_000, 9_800, 310_000, 12_000), "cost_usd": 0.5012,
                          "models": ["claude-sonnet-5-5"], "agent": "claude"})
    bob.claim(6, lease=600)
    bob.finish(6, True, {**_work(project, 6, "docs/format.md"), "summary": "docs/format.md describes both files",
                         "usage": _usage(3_900, 1_210, 18_000, 2_500), "cost_usd": 0.0377,
                         "models": ["claude-haiku-5-5"], "agent": "claude"})
    alice.claim(3, lease=600)
    alice.set_member(status="working", task=3)
    bob.set_member(status="idle", task=None)

    logs = {"alice": ["[alice] claimed #3: Summarise the numbers",
                      "[alice] | claude: tool Read stats.py",
                      "[alice] | claude: tool Edit stats.py"],
            "bob": ["[bob] failed #7: budget: claude used $0.5012, past the task's $0.50 budget",
                    "[bob] done #6: Document the data format", "[bob] idle"]}
    from gitboard.store.repo import BoardRepo

    with BoardRepo(project) as repo:
        board_time = repo.git("log", "-1", "--format=%cd", "--date=format-local:%H:%M:%S", "gitboard")
        stamp = board_time.stdout.decode().strip()
        for name, lines in logs.items():
            path = Path(log_path(repo, name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{stamp} {line}\n" for line in lines))
    return project


def watch_svg(path: Path) -> None:
    """``gitboard watch --once`` on :func:`sample_board`, drawn in a 100 x 24 terminal, as SVG."""
    from rich.console import Console

    from gitboard.cli import render
    from gitboard.cli.main import main

    with tempfile.TemporaryDirectory(prefix="gitboard-pictures-") as tmp:
        project = sample_board(Path(tmp))
        width, height = WATCH_SIZE
        recorder = Console(record=True, width=width, height=height, force_terminal=True,
                           color_system="truecolor", highlight=False, file=open(os.devnull, "w"))
        saved = render.console
        render.console = recorder
        try:
            main(["-C", str(project), "watch", "--once"])
        except SystemExit as e:
            if e.code:
                raise RuntimeError(f"gitboard watch --once exited {e.code}") from None
        finally:
            render.console = saved
            recorder.file.close()
        svg = recorder.export_svg(title="gitboard watch")
    path.write_text(svg, encoding="utf-8")


IDENT = ["-c", "user.name=demo", "-c", "user.email=demo@example.invalid"]


def _wgit(cwd: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})}, check=True)
    return p.stdout.decode().strip()


def _commit_files(repo: Path, branch: str, start: str, files: dict[str, str], message: str) -> str:
    """Commit ``files`` on ``branch`` (made at ``start``) with plumbing, no checkout."""
    index = repo / ".git" / "demo-index"
    env = {"GIT_INDEX_FILE": str(index)}
    _wgit(repo, "read-tree", start, env=env)
    for name, text in files.items():
        blob = _wgit(repo, "hash-object", "-w", "--stdin", input=text.encode())
        _wgit(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = _wgit(repo, "write-tree", env=env)
    index.unlink()
    new = _wgit(repo, "commit-tree", tree, "-p", start, "-m", message)
    _wgit(repo, "update-ref", f"refs/heads/{branch}", new)
    return new


def _web_usage(i: int, model: str = "claude-sonnet-4-5") -> dict:
    return {"usage": {"input_tokens": 18_000 + 2_100 * i, "output_tokens": 3_200 + 400 * i,
                      "cache_read_input_tokens": 52_000 + 9_000 * i, "cache_creation_input_tokens": 4_000},
            "cost_usd": round(0.21 + 0.063 * i, 4), "models": [model]}


def web_sample_board(root: Path) -> Path:
    """A project at ``root/shop`` with a demo board; returns its path."""
    from gitboard.client import BoardClient
    from gitboard.store.repo import BoardRepo
    from gitboard.store.setup import init

    repo = root / "shop"
    repo.mkdir(parents=True)
    _wgit(repo, "init", "-q", "-b", "main")
    (repo / "shop").mkdir()
    (repo / "shop" / "cart.py").write_text(
        "def total(items):\n    return sum(i.price for i in items)\n")
    (repo / "README.md").write_text("# shop\n")
    _wgit(repo, "add", "-A")
    _wgit(repo, "commit", "-q", "-m", "start")
    with BoardRepo(repo) as r:
        init(r, actor="lead", team_name="shop")
    lead = BoardClient(repo, "lead")
    for name, role in (("alice", "dev"), ("bob", "dev"), ("carol", "qa")):
        lead.set_member(name, role=role, status="idle", host="build-01")
    subjects = [
        ("Add a discount code field to the cart", "dev"),
        ("Round totals to the currency's minor unit", "dev"),
        ("Cache product prices for 60 s", "dev"),
        ("Write the checkout end-to-end test", "qa"),
        ("Split shop/cart.py into cart and pricing", "dev"),
        ("Show the VAT line on the receipt <b>bold</b>", "dev"),
        ("Document the refund flow", None),
        ("Migrate the orders table to UUID keys", "dev"),
        ("Retry payment webhooks with backoff", "dev"),
        ("Fuzz the address parser", "qa"),
        ("Upgrade the HTTP client", None),
        ("Localise the checkout page (de, fr)", "dev"),
    ]
    ids = [lead.add_task(s, f"{s}.\n\nKeep the public API as it is.", role=r).id for s, r in subjects]
    lead.add_task("Release 2.4 notes", "Collect the merged changes.", blocked_by=[ids[4], ids[7]])
    lead.add_task("Remove the old pricing module", blocked_by=[ids[4]], role="dev")
    alice, bob, carol = (BoardClient(repo, n) for n in ("alice", "bob", "carol"))
    base = _wgit(repo, "rev-parse", "main")
    # merged work
    for i, who in ((0, alice), (1, bob)):
        tid = ids[i]
        _commit_files(repo, f"task/{tid}", base, {f"shop/feature_{tid}.py": f"FEATURE = {tid}\n"}, f"task #{tid}")
        who.claim(tid)
        who.finish(tid, True, {"note": f"done: {subjects[i][0].lower()}", **_web_usage(i + 3)})
        lead.approve(tid)
    from gitboard.merge_queue.queue import run_queue

    run_queue(repo, check="")
    base = _wgit(repo, "rev-parse", "main")
    # waiting for review: a real diff
    tid = ids[4]
    _commit_files(repo, f"task/{tid}", base, {
        "shop/cart.py": "from shop.pricing import price_of\n\n\ndef total(items):\n"
                        "    \"\"\"The cart's total in minor units.\"\"\"\n"
                        "    return sum(price_of(i) for i in items)\n",
        "shop/pricing.py": "def price_of(item):\n    \"\"\"An item's price, discounts applied.\"\"\"\n"
                           "    return round(item.price * (1 - item.discount))\n"}, f"task #{tid}: split pricing out")
    alice.claim(tid)
    alice.finish(tid, True, {"note": "pricing lives in shop/pricing.py; cart keeps total()", **_web_usage(5)})
    tid = ids[5]
    _commit_files(repo, f"task/{tid}", base, {"shop/receipt.py": "VAT_LINE = True\n"}, f"task #{tid}")
    bob.claim(tid)
    bob.finish(tid, True, {"note": "VAT line added", **_web_usage(2)})
    # approved, not merged yet
    tid = ids[6]
    _commit_files(repo, f"task/{tid}", base, {"docs/refunds.md": "# Refunds\n"}, f"task #{tid}")
    carol.claim(tid)
    carol.finish(tid, True, {"note": "written", **_web_usage(1, "claude-haiku-4-5")})
    lead.approve(tid)
    # failed
    tid = ids[9]
    carol.claim(tid)
    carol.finish(tid, False, {"note": "budget reached: $0.5000 spent of the $0.5000 budget", **_web_usage(4, "claude-haiku-4-5")})
    # in progress
    alice.claim(ids[7], lease=900)
    alice.set_member(status="working", task=ids[7])
    bob.claim(ids[8], lease=600)
    bob.set_member(status="working", task=ids[8])
    carol.claim(ids[3], lease=1200)
    carol.set_member(status="working", task=ids[3])
    # a rework
    tid = ids[2]
    _commit_files(repo, f"task/{tid}", base, {"shop/cache.py": "TTL = 60\n"}, f"task #{tid}")
    bob.claim(tid)
    bob.finish(tid, True, {"note": "cached", **_web_usage(0)})
    lead.reject(tid, "Cache per currency, not globally; add a test for the expiry.")
    alice.request_plan("1. Add a uuid column and backfill it\n2. Switch reads to the new key\n3. Drop the old key")
    return repo


def _shoot(repo: Path, out_dir: Path) -> list[Path]:
    """Start ``gitboard serve`` on ``repo`` and save ``web-board.png``, ``web-task.png`` and
    ``web-cost.png`` in ``out_dir`` with headless Chromium; returns their paths."""
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("make_pictures: chromium is not installed (apt-get install chromium)")
    gitboard = [sys.executable, "-m", "gitboard"]
    server = subprocess.Popen([*gitboard, "serve", "--port", "0", "--no-notify"], cwd=repo,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = re.search(r"http://\S+", line).group(0)
        origin = url.split("/?")[0]
        out_dir.mkdir(parents=True, exist_ok=True)
        saved = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe)
            page = browser.new_page(viewport={"width": 1600, "height": 700}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector("#live-dot.on")
            page.screenshot(path=str(out_dir / "web-board.png"))
            saved.append(out_dir / "web-board.png")
            tid = page.locator(".col-review .card").first.get_attribute("data-task")
            page.goto(f"{origin}/task/{tid}")
            page.screenshot(path=str(out_dir / "web-task.png"), full_page=False)
            saved.append(out_dir / "web-task.png")
            page.goto(f"{origin}/cost")
            page.screenshot(path=str(out_dir / "web-cost.png"))
            saved.append(out_dir / "web-cost.png")
            browser.close()
        return saved
    finally:
        server.terminate()
        server.wait(10)


def _web_pictures(path: Path) -> None:
    """The web board's three pictures (``web-board.png``, ``web-task.png``, ``web-cost.png``)
    next to ``path``: ``gitboard serve`` on :func:`web_sample_board`, shot by headless Chromium
    (Playwright driving Debian's ``chromium``)."""
    with tempfile.TemporaryDirectory(prefix="gitboard-pictures-") as tmp:
        _shoot(web_sample_board(Path(tmp)), path.parent)


#: file name in docs/images/ -> the function that makes it
PICTURES: dict[str, Callable[[Path], None]] = {
    "watch.svg": watch_svg,
    "web-board.png": _web_pictures,  # with web-task.png and web-cost.png
}


def main(argv: list[str] | None = None) -> int:
    """Make the named pictures (default: all) in ``docs/images/``; returns the exit status."""
    parser = argparse.ArgumentParser(description="Make the README's and the docs' pictures.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"pictures to make (default: {', '.join(PICTURES)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in PICTURES]
    if unknown:
        parser.error(f"unknown picture {', '.join(unknown)}; known: {', '.join(PICTURES)}")
    if shutil.which("git") is None:
        parser.error("git is not on PATH")
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in args.names or PICTURES:
        PICTURES[name](IMAGES / name)
        print(f"wrote {IMAGES / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
