#!/usr/bin/env python3
"""Make the documentation's pictures of the web board: ``docs/images/web-board.png`` (and
``web-task.png``, ``web-cost.png``).

It builds a demo project with a board in a temporary directory -- tasks in every column,
three teammates on the roster, results with usage and cost, a completed task whose
branch adds code, a plan waiting for approval -- starts ``gitboard serve`` on it and
takes screenshots with headless Chromium (Debian's ``chromium``, driven by Playwright)::

    .venv/bin/python docs/make_pictures.py            # writes docs/images/*.png
    .venv/bin/python docs/make_pictures.py --keep     # and leaves the demo project

Needs: ``pip install playwright`` and ``chromium`` on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
IDENT = ["-c", "user.name=demo", "-c", "user.email=demo@example.invalid"]


def git(cwd: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    p = subprocess.run(["git", *IDENT, *args], cwd=cwd, input=input, capture_output=True,
                       env={**os.environ, **(env or {})}, check=True)
    return p.stdout.decode().strip()


def commit_files(repo: Path, branch: str, start: str, files: dict[str, str], message: str) -> str:
    """Commit ``files`` on ``branch`` (made at ``start``) with plumbing, no checkout."""
    index = repo / ".git" / "demo-index"
    env = {"GIT_INDEX_FILE": str(index)}
    git(repo, "read-tree", start, env=env)
    for name, text in files.items():
        blob = git(repo, "hash-object", "-w", "--stdin", input=text.encode())
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = git(repo, "write-tree", env=env)
    index.unlink()
    new = git(repo, "commit-tree", tree, "-p", start, "-m", message)
    git(repo, "update-ref", f"refs/heads/{branch}", new)
    return new


def usage(i: int, model: str = "claude-sonnet-4-5") -> dict:
    return {"usage": {"input_tokens": 18_000 + 2_100 * i, "output_tokens": 3_200 + 400 * i,
                      "cache_read_input_tokens": 52_000 + 9_000 * i, "cache_creation_input_tokens": 4_000},
            "cost_usd": round(0.21 + 0.063 * i, 4), "models": [model]}


def build_demo(root: Path) -> Path:
    """A project at ``root/shop`` with a demo board; returns its path."""
    from gitboard.client import BoardClient
    from gitboard.store.repo import BoardRepo
    from gitboard.store.setup import init

    repo = root / "shop"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "shop").mkdir()
    (repo / "shop" / "cart.py").write_text(
        "def total(items):\n    return sum(i.price for i in items)\n")
    (repo / "README.md").write_text("# shop\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
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
    base = git(repo, "rev-parse", "main")
    # merged work
    for i, who in ((0, alice), (1, bob)):
        tid = ids[i]
        commit_files(repo, f"task/{tid}", base, {f"shop/feature_{tid}.py": f"FEATURE = {tid}\n"}, f"task #{tid}")
        who.claim(tid)
        who.finish(tid, True, {"note": f"done: {subjects[i][0].lower()}", **usage(i + 3)})
        lead.approve(tid)
    from gitboard.team.refinery import run_queue

    run_queue(repo, check="")
    base = git(repo, "rev-parse", "main")
    # waiting for review: a real diff
    tid = ids[4]
    commit_files(repo, f"task/{tid}", base, {
        "shop/cart.py": "from shop.pricing import price_of\n\n\ndef total(items):\n"
                        "    \"\"\"The cart's total in minor units.\"\"\"\n"
                        "    return sum(price_of(i) for i in items)\n",
        "shop/pricing.py": "def price_of(item):\n    \"\"\"An item's price, discounts applied.\"\"\"\n"
                           "    return round(item.price * (1 - item.discount))\n"}, f"task #{tid}: split pricing out")
    alice.claim(tid)
    alice.finish(tid, True, {"note": "pricing lives in shop/pricing.py; cart keeps total()", **usage(5)})
    tid = ids[5]
    commit_files(repo, f"task/{tid}", base, {"shop/receipt.py": "VAT_LINE = True\n"}, f"task #{tid}")
    bob.claim(tid)
    bob.finish(tid, True, {"note": "VAT line added", **usage(2)})
    # approved, not merged yet
    tid = ids[6]
    commit_files(repo, f"task/{tid}", base, {"docs/refunds.md": "# Refunds\n"}, f"task #{tid}")
    carol.claim(tid)
    carol.finish(tid, True, {"note": "written", **usage(1, "claude-haiku-4-5")})
    lead.approve(tid)
    # failed
    tid = ids[9]
    carol.claim(tid)
    carol.finish(tid, False, {"note": "budget reached: $0.5000 spent of the $0.5000 budget", **usage(4, "claude-haiku-4-5")})
    # in progress
    alice.claim(ids[7], lease=900)
    alice.set_member(status="working", task=ids[7])
    bob.claim(ids[8], lease=600)
    bob.set_member(status="working", task=ids[8])
    carol.claim(ids[3], lease=1200)
    carol.set_member(status="working", task=ids[3])
    # a rework
    tid = ids[2]
    commit_files(repo, f"task/{tid}", base, {"shop/cache.py": "TTL = 60\n"}, f"task #{tid}")
    bob.claim(tid)
    bob.finish(tid, True, {"note": "cached", **usage(0)})
    lead.reject(tid, "Cache per currency, not globally; add a test for the expiry.")
    alice.request_plan("1. Add a uuid column and backfill it\n2. Switch reads to the new key\n3. Drop the old key")
    return repo


def shoot(repo: Path, out_dir: Path) -> list[Path]:
    """Start ``gitboard serve`` on ``repo`` and save the pictures; returns their paths."""
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "images")
    ap.add_argument("--keep", action="store_true", help="keep the demo project (its path is printed)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitboard-pictures-"))
    try:
        repo = build_demo(root)
        for path in shoot(repo, args.out):
            print(f"wrote {path}")
        if args.keep:
            print(f"demo project: {repo}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
