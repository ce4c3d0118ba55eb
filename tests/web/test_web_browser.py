"""The web board driven in a real headless browser (Debian's chromium through Playwright),
against a real ``gitboard serve`` process on a real repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gitboard.client import BoardClient
from tests.helpers.merge_helpers import commit_on, g

pytestmark = pytest.mark.slow


def completed(path: Path, subject: str, files: dict[str, str], who: str = "alice") -> int:
    """A task whose branch ``task/<id>`` commits ``files``, claimed and completed by ``who``."""
    lead = BoardClient(path, "lead")
    tid = lead.add_task(subject).id
    commit_on(path, f"task/{tid}", "main", files, f"task #{tid}: {subject}")
    mate = BoardClient(path, who)
    mate.claim(tid)
    mate.finish(tid, True, {"note": f"did {subject}"})
    return tid


def column_of(page, tid: int) -> str | None:
    """The column key the card of task ``tid`` is in, or None."""
    card = page.locator(f'.card[data-task="{tid}"]')
    if card.count() == 0:
        return None
    return card.first.evaluate("e => e.closest('[data-column]').getAttribute('data-column')")


def test_board_loads_with_every_column_and_the_tasks(board_project, serve, browser):
    lead = BoardClient(board_project, "lead")
    ready = lead.add_task("write the parser").id
    blocked = lead.add_task("ship it", blocked_by=[ready]).id
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    keys = page.eval_on_selector_all("[data-column]", "els => els.map(e => e.getAttribute('data-column'))")
    assert keys == ["ready", "blocked", "in_progress", "review", "approved", "merged", "failed"]
    assert column_of(page, ready) == "ready"
    assert column_of(page, blocked) == "blocked"
    assert page.locator(f'.card[data-task="{ready}"] .subject').inner_text() == "write the parser"


def test_a_task_moves_live_after_a_cli_claim(board_project, serve, browser, run_gitboard):
    lead = BoardClient(board_project, "lead")
    tid = lead.add_task("claim me").id
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_selector("#live-dot.on")  # the event stream is open
    assert column_of(page, tid) == "ready"
    res = run_gitboard(["task", "claim", str(tid), "--as", "alice", "--lease", "600"], cwd=board_project)
    assert res.exit_code == 0, res.stderr
    # no reload: the page follows the board ref over Server-Sent Events
    page.wait_for_selector(f'.col-in_progress .card[data-task="{tid}"]', timeout=5000)
    card = page.locator(f'.card[data-task="{tid}"]')
    assert "alice" in card.inner_text() and "lease" in card.inner_text()


def test_a_live_update_that_arrives_while_the_user_opens_a_form_keeps_it(board_project, serve, browser):
    """The board moves; while the page loads its new live part, the user opens "Add task" (the
    swap keeps it open) and then starts typing (the next swap waits, the text stays)."""
    lead = BoardClient(board_project, "lead")
    server = serve(board_project)
    page = browser.new_page()
    held: list = []  # the page's partial reloads, answered when the test says

    def hold(route) -> None:
        if route.request.headers.get("x-gitboard-partial") == "1":
            held.append(route)
        else:
            route.continue_()

    page.route("**/*", hold)
    page.goto(server.url)
    page.wait_for_selector("#live-dot.on")

    def next_reload() -> None:
        for _ in range(200):
            if held:
                return
            page.wait_for_timeout(25)
        raise AssertionError("the page did not reload its live part")

    first = lead.add_task("first").id
    next_reload()
    page.click("summary:has-text('Add task')")  # opened while the reload is on its way
    held.pop().continue_()
    page.wait_for_selector(f'.card[data-task="{first}"]')
    assert page.locator("details.pop").first.evaluate("d => d.open")

    second = lead.add_task("second").id
    next_reload()
    page.fill('#add-form input[name="subject"]', "half typed")
    held.pop().continue_()
    page.wait_for_timeout(300)
    assert page.locator(f'.card[data-task="{second}"]').count() == 0  # not swapped under the typing
    assert page.input_value('#add-form input[name="subject"]') == "half typed"


def test_approve_a_completed_task_by_clicking(board_project, serve, browser):
    tid = completed(board_project, "add b", {"b.txt": "b\n"})
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    assert column_of(page, tid) == "review"
    page.click(f'.card[data-task="{tid}"] [data-action="approve"]')
    page.wait_for_selector(".flash.ok")
    assert f"approved #{tid}" in page.inner_text(".flash.ok")
    assert column_of(page, tid) == "approved"
    task = BoardClient(board_project).task(tid)
    assert task.review["verdict"] == "approved" and task.review["by"] == "lead"
    assert task.review["commit"] == g(board_project, "rev-parse", f"task/{tid}")


def test_reject_with_feedback(board_project, serve, browser):
    tid = completed(board_project, "add c", {"c.txt": "c\n"})
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    page.click(f'.card[data-task="{tid}"] [data-action="reject"]')
    page.fill(f'.card[data-task="{tid}"] textarea[name="feedback"]', "name the file c.md, not c.txt")
    page.click(f'.card[data-task="{tid}"] details.reject button[type="submit"]')
    page.wait_for_selector(".flash.ok")
    assert f"sent #{tid} back" in page.inner_text(".flash.ok")
    task = BoardClient(board_project).task(tid)
    assert task.status == "pending"
    assert task.rework[-1]["reason"] == "review" and task.rework[-1]["feedback"] == "name the file c.md, not c.txt"
    assert column_of(page, tid) == "ready"
    assert "rework 1" in page.locator(f'.card[data-task="{tid}"]').inner_text()


def test_run_the_merge_queue(board_project, serve, browser):
    tid = completed(board_project, "add d", {"d.txt": "d\n"})
    BoardClient(board_project).approve(tid)
    g(board_project, "config", "gitboard.check", "test -f d.txt")
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    assert column_of(page, tid) == "approved"
    page.click("#run-merge")
    page.wait_for_selector(".flash", timeout=60000)
    assert page.inner_text(".flash.ok") == f"merge queue: merged 1 (#{tid})"
    assert column_of(page, tid) == "merged"
    task = BoardClient(board_project).task(tid)
    assert task.status == "merged"
    assert task.result["merge"]["check"]["command"] == "test -f d.txt"
    assert g(board_project, "show", "main:d.txt") == "d"


def test_the_task_page_shows_the_review_and_its_history(board_project, serve, browser):
    tid = completed(board_project, "change a", {"a.txt": "a\nmore <b>text</b>\n",
                                                "b.py": "def f():\n    return '<i>x</i>'\n"})
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.at(f"/task/{tid}"))
    text = page.inner_text("main")
    assert "mergeable" in text and "a.txt" in text and "b.py" in text
    added = page.locator(".diff .add").all_inner_texts()
    assert "+more <b>text</b>" in added and "+def f():" in added
    assert page.locator(".diff .add .k").first.inner_text() == "def"  # Python highlighted as Python
    assert page.locator(".diff .add .s1, .diff .add .s2, .diff .add .s").count() >= 1
    history = page.locator("ol.history li").all_inner_texts()
    assert [h.split(" ", 1)[1].split(" by ")[0] for h in history] == [f"done #{tid}", f"claim #{tid}", f"add #{tid}"]


def test_add_task_and_a_refused_action_shows_gitboards_one_line(board_project, serve, browser):
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.url)
    page.click("summary:has-text('Add task')")
    page.fill('#add-form input[name="subject"]', "from the browser")
    page.fill('#add-form input[name="role"]', "dev")
    page.click('#add-form button[type="submit"]')
    page.wait_for_selector(".flash.ok")
    tasks = BoardClient(board_project).tasks()
    assert [(t.subject, t.role) for t in tasks] == [("from the browser", "dev")]
    page.click("summary:has-text('Add task')")
    page.fill('#add-form input[name="subject"]', "waits for nothing")
    page.fill('#add-form input[name="blocked_by"]', "99")
    tip = g(board_project, "rev-parse", "gitboard")
    page.click('#add-form button[type="submit"]')
    page.wait_for_selector(".flash.err")
    assert re.fullmatch(r"gitboard: error: [^\n]+", page.inner_text(".flash.err"))
    assert "99" in page.inner_text(".flash.err")
    assert g(board_project, "rev-parse", "gitboard") == tip  # nothing written


def test_stop_a_teammate_and_answer_a_plan(board_project, serve, browser):
    lead = BoardClient(board_project, "lead")
    lead.set_member("alice", status="working")
    req = BoardClient(board_project, "alice").request_plan("1. read\n2. write")
    server = serve(board_project)
    page = browser.new_page()
    page.goto(server.at("/team"))
    page.click('tr[data-member="alice"] [data-action="stop"]')
    page.wait_for_selector(".flash.ok")
    assert "asked alice to shut down" in page.inner_text(".flash.ok")
    page.click("button:has-text('Approve plan')")
    page.wait_for_selector(".flash.ok >> text=approved alice's plan")
    board = BoardClient(board_project)
    assert board.request(req.request_id).status == "approved"
    shutdown = [m for m in board.peek("alice") if m.type == "shutdown_request"]
    assert len(shutdown) == 1 and shutdown[0].from_ == "lead"


def test_html_and_escape_sequences_in_a_subject_render_as_text(board_project, serve, browser):
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\x1b[31mred\x1b]0;t\x07'
    tid = BoardClient(board_project, "lead").add_task(payload, description=payload).id
    server = serve(board_project)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in ("/", f"/task/{tid}", f"/?q={payload[:10]}"):
        page.goto(server.at(path))
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#live img, #live script").count() == 0
    shown = page.locator(f'.card[data-task="{tid}"] .subject').inner_text()
    assert shown == '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\\x1b[31mred\\x1b]0;t\\x07'
    page.goto(server.at(f"/task/{tid}"))
    assert "\\x1b[31mred" in page.inner_text("h1")
    assert "\x1b" not in page.content()
    assert dialogs == []
    assert json.loads(json.dumps(page.evaluate("document.title")))  # the page rendered


def test_remote_mode_follows_another_clones_claim_by_fetching(tmp_path, serve, browser, run_gitboard):
    from tests.helpers.merge_helpers import init_board, remote_project

    bare, a = remote_project(tmp_path)
    b = tmp_path / "b"
    g(tmp_path, "clone", "-q", str(bare), str(b))
    init_board(b, remote="origin")
    tid = BoardClient(a, "lead").add_task("claimed elsewhere").id
    server = serve(a, "--poll", "0.5")
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_selector("#live-dot.on")
    assert column_of(page, tid) == "ready"
    res = run_gitboard(["task", "claim", str(tid), "--as", "bob"], cwd=b)  # pushed to the remote by clone b
    assert res.exit_code == 0, res.stderr
    page.wait_for_selector(f'.col-in_progress .card[data-task="{tid}"]', timeout=10000)
    assert "bob" in page.locator(f'.card[data-task="{tid}"]').inner_text()
    assert "remote" in page.inner_text("header") and "origin" in page.inner_text("header")
