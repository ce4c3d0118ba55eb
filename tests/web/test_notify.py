"""Notifications delivered through Apprise's JSON webhook scheme (``json://127.0.0.1:PORT/...``)
to a loopback HTTP receiver: each board event arrives once per clone, with ``gitboard notify``
run twice, and with ``gitboard serve`` and ``gitboard notify --follow`` running together."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitboard.client import BoardClient
from tests.helpers.merge_helpers import commit_on, g


class Receiver:
    """A loopback HTTP server recording each JSON body POSTed to it; ``fail`` answers 500 instead."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append({"path": self.path, **json.loads(data)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [b["title"] for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def gitboard(path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitboard", *args], cwd=path, capture_output=True, text=True,
                          timeout=timeout)


def make_events(path: Path) -> list[str]:
    """One board event of every kind, made through the board client; returns the titles the
    notifications must carry, in order."""
    lead, alice, bob, carol, dave = (BoardClient(path, n) for n in ("lead", "alice", "bob", "carol", "dave"))
    for name in ("alice", "bob", "carol", "dave"):
        lead.set_member(name, status="idle")
    alice.request_plan("1. split the parser\n2. test it")
    alice.send("lead", "the parser needs a decision")
    alice.send("bob", "not for the lead")  # no event: not to the lead
    t1 = lead.add_task("fails").id
    alice.claim(t1)
    alice.finish(t1, False, {"note": "tests do not pass"})
    t2 = lead.add_task("too expensive").id
    bob.claim(t2)
    bob.finish(t2, False, {"note": "budget reached: $0.5000 spent of the $0.5000 budget"})
    t3 = lead.add_task("stalls").id
    carol.claim(t3)
    carol.release(t3, reason="stalled: no output and no tool call for 600 s")
    t4 = lead.add_task("gets reworked").id
    commit_on(path, f"task/{t4}", "main", {"r.txt": "r\n"}, "r")
    bob.claim(t4)
    bob.finish(t4, True, {"note": "done"})
    lead.reject(t4, "please add a test")
    t5 = lead.add_task("gets merged").id
    commit_on(path, f"task/{t5}", "main", {"m.txt": "m\n"}, "m")
    alice.claim(t5)
    alice.finish(t5, True, {"note": "done"})
    lead.approve(t5)
    from gitboard.merge_queue.queue import run_queue

    assert run_queue(path, check="")["merged"] == [t5]
    t6 = lead.add_task("its owner dies").id
    carol.claim(t6, lease=0.2)
    time.sleep(1.2)  # the lease expires (the clock has whole seconds)
    dave.claim(t6)
    return ["gitboard: alice asks for plan approval", "gitboard: message from alice to the lead",
            f"gitboard: task #{t1} failed", f"gitboard: task #{t2} stopped on its budget",
            f"gitboard: task #{t3} stalled", f"gitboard: task #{t4} sent back for rework",
            f"gitboard: task #{t5} merged", "gitboard: carol found dead"]


def test_each_event_arrives_once_with_notify_run_twice(board_project, receiver):
    g(board_project, "config", "--add", "gitboard.notify.url", receiver.url())
    first = gitboard(board_project, "notify", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"delivered": []}  # a clone's first pass starts at the tip
    expected = make_events(board_project)
    res = gitboard(board_project, "notify", "--json")
    assert res.returncode == 0, res.stderr
    assert [d["title"] for d in json.loads(res.stdout)["delivered"]] == expected
    assert receiver.titles() == expected
    assert {b["path"] for b in receiver.bodies} == {"/hook"}
    plan = receiver.bodies[0]["message"]
    assert "1. split the parser\n2. test it" in plan
    assert receiver.bodies[1]["message"] == "the parser needs a decision"
    assert "please add a test" in receiver.bodies[5]["message"]
    again = gitboard(board_project, "notify", "--json")
    assert again.returncode == 0 and json.loads(again.stdout) == {"delivered": []}
    assert receiver.titles() == expected
    state = json.loads((board_project / ".git" / "gitboard" / "notify.json").read_text())
    assert state["tip"] == g(board_project, "rev-parse", "gitboard")
    assert receiver.url() not in json.dumps(state)  # only a hash of the URL is kept


def test_the_event_filter_and_a_second_url(board_project, receiver):
    g(board_project, "config", "--add", "gitboard.notify.url", receiver.url("one"))
    g(board_project, "config", "--add", "gitboard.notify.url", receiver.url("two"))
    g(board_project, "config", "--add", "gitboard.notify.events", "merge, failed")
    assert gitboard(board_project, "notify").returncode == 0
    expected = [t for t in make_events(board_project) if t.endswith(("merged", "failed"))]
    assert gitboard(board_project, "notify").returncode == 0
    for path in ("/one", "/two"):
        assert [b["title"] for b in receiver.bodies if b["path"] == path] == expected
    g(board_project, "config", "--add", "gitboard.notify.events", "lunch")
    bad = gitboard(board_project, "notify")
    assert bad.returncode == 2
    assert bad.stderr == ("gitboard: error: git config gitboard.notify.events: unknown event 'lunch' "
                          "(one of plan, message, failed, rework, merge, budget, stall, dead, or all)\n")


def test_a_failed_delivery_is_retried_and_then_arrives_once(board_project, receiver):
    g(board_project, "config", "gitboard.notify.url", receiver.url())
    assert gitboard(board_project, "notify").returncode == 0
    lead, alice = BoardClient(board_project, "lead"), BoardClient(board_project, "alice")
    tid = lead.add_task("x").id
    alice.claim(tid)
    receiver.fail = True
    alice.finish(tid, False, {"note": "broken"})
    res = gitboard(board_project, "notify", "--json")
    assert res.returncode == 0 and json.loads(res.stdout) == {"delivered": []}
    receiver.fail = False
    res = gitboard(board_project, "notify", "--json")
    assert [d["title"] for d in json.loads(res.stdout)["delivered"]] == [f"gitboard: task #{tid} failed"]
    assert gitboard(board_project, "notify", "--json").stdout.strip() == '{"delivered": []}'
    assert receiver.titles() == [f"gitboard: task #{tid} failed"]


def test_serve_and_notify_follow_together_deliver_each_event_once(board_project, receiver, serve):
    g(board_project, "config", "gitboard.notify.url", receiver.url())
    assert gitboard(board_project, "notify").returncode == 0
    follower = subprocess.Popen([sys.executable, "-m", "gitboard", "notify", "--follow"], cwd=board_project,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        serve(board_project, notify=True)
        expected = make_events(board_project)
        deadline = time.monotonic() + 30
        while len(receiver.bodies) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # both followers have seen the last tip: nothing more may come
        assert sorted(receiver.titles()) == sorted(expected)
        assert len(receiver.titles()) == len(set(receiver.titles())) == len(expected)
    finally:
        follower.terminate()
        follower.wait(15)


def test_a_teammate_whose_process_is_gone_is_reported_dead_once(board_project, receiver):
    from gitboard.proc import this_host

    g(board_project, "config", "gitboard.notify.url", receiver.url())
    assert gitboard(board_project, "notify").returncode == 0
    gone = subprocess.Popen(["true"])
    gone.wait()
    BoardClient(board_project, "lead").set_member("zed", status="working", host=this_host(), pid=gone.pid)
    for _ in range(2):
        assert gitboard(board_project, "notify").returncode == 0
    assert receiver.titles() == ["gitboard: zed found dead"]
    assert "zed's process on this host is gone" in receiver.bodies[0]["message"]
