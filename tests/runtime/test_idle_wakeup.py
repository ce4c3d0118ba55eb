"""Idle wake-up: an idle teammate claims a new task as soon as the board moves, whatever --poll is."""

from __future__ import annotations

import threading
import time

from gitboard.runtime.port import BoardPort
from tests.helpers.runtime_helpers import add_tasks, board, make_project, make_remote_project, teammate, wait_for

LONG_POLL = 300.0  # far longer than any wait below: a claim in time can only come from the ref watcher


def test_an_idle_teammate_wakes_on_a_new_task_long_before_its_poll(tmp_path):
    path = make_project(tmp_path)
    t, lines = teammate(path, poll=LONG_POLL, idle_timeout=3 * LONG_POLL)
    runner = threading.Thread(target=t.run)
    runner.start()
    try:
        wait_for(lambda: any("idle: polling every 300 s" in ln for ln in lines), 60, what="alice to go idle")
        added = time.monotonic()
        add_tasks(path, [{"subject": "wake up", "run": "echo awake > w.txt"}])
        wait_for(lambda: board(path).tasks[1].status == "completed", 60, what="alice to wake and do #1")
        assert time.monotonic() - added < 60 < LONG_POLL
        assert any("claimed #1" in ln for ln in lines)
    finally:
        t.port.abort.set()
        runner.join(60)
    assert not runner.is_alive()


def test_remote_mode_waits_the_whole_poll(tmp_path):
    _, (clone,) = make_remote_project(tmp_path, ["c1"])
    port = BoardPort(clone, "alice")
    start = time.monotonic()
    add_tasks(clone, [{"subject": "moves the local ref too"}])
    port.wait_for_change(None, 1.0)  # the local ref is not where the board moves: no wake-up
    assert time.monotonic() - start >= 1.0
