"""A push whose connection drops after the remote committed it (or before): every write either
took effect once and says so, or took no effect and says so.

The remote is a bare repository served by a real ``git daemon`` on loopback. Its
``reference-transaction`` hook, once armed, stops in the ``committed`` state (the ref has
moved) or in the ``prepared`` state (it has not yet), and the test kills the daemon and its
children there, so the client's connection drops mid-push. Then either the daemon comes back
on the same port while the client is still settling, or it stays away until the client gave
up with "the outcome is unknown" and the same command is repeated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.merge_helpers import completed_task, g, remote_project
from tests.helpers.transports import GitDaemon

HOOK = """#!/bin/sh
# armed: stop in the named state of a transaction of the board branch, until killed
state=$(cat "{armed}" 2>/dev/null) || exit 0
[ "$1" = "$state" ] || exit 0
grep -q " refs/heads/gitboard$" || exit 0
rm -f "{armed}"
touch "{fired}"
sleep 60
"""


class Remote:
    """The served bare repository of ``remote_project``, with the cutting hook."""

    def __init__(self, tmp_path: Path, bare: Path) -> None:
        self.root, self.bare = tmp_path, bare
        self.armed, self.fired = tmp_path / "armed", tmp_path / "fired"
        hook = bare / "hooks" / "reference-transaction"
        hook.write_text(HOOK.format(armed=self.armed, fired=self.fired))
        hook.chmod(0o755)
        self.daemon = GitDaemon(tmp_path)
        self.port = self.daemon.port

    def url(self) -> str:
        return self.daemon.url(self.bare.name)

    def arm(self, state: str) -> None:
        self.fired.unlink(missing_ok=True)
        self.armed.write_text(state)

    def cut(self, proc: subprocess.Popen, timeout: float = 60) -> None:
        """Wait until the hook stopped the push, then kill the daemon and its children (SIGKILL:
        receive-pack outlives a SIGTERM that ends its hook, and reports the push)."""
        end = time.monotonic() + timeout
        while not self.fired.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "the push never reached the hook"
            time.sleep(0.02)
        os.killpg(self.daemon.proc.pid, signal.SIGKILL)
        self.daemon.proc.wait(10)

    def restart(self) -> None:
        self.daemon = GitDaemon(self.root, port=self.port)

    def close(self) -> None:
        self.daemon.close()


@pytest.fixture
def served(tmp_path: Path, run_cli):
    bare, a = remote_project(tmp_path)
    remote = Remote(tmp_path, bare)
    g(a, "remote", "set-url", "origin", remote.url())
    for name in ("alice", "bob"):
        assert run_cli(["team", "add", name], cwd=a).exit_code == 0
    try:
        yield remote, a
    finally:
        remote.close()


def start(gitboard_exe: Path, cwd: Path, args: list[str], settle: float) -> subprocess.Popen:
    env = {**os.environ, "GITBOARD_SETTLE_SECONDS": str(settle), "GITBOARD_DEADLINE": "60"}
    return subprocess.Popen([str(gitboard_exe), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def inbox_files(bare: Path, name: str) -> list[str]:
    out = g(bare, "ls-tree", "-r", "--name-only", "gitboard", f".team/inbox/{name}/")
    return [p for p in out.splitlines() if p]


def board_commits(bare: Path, action: str) -> int:
    log = g(bare, "log", "--format=%(trailers:key=Gitboard-Action,valueonly)", "gitboard")
    return sum(1 for line in log.splitlines() if line.strip() == action)


def task_json(bare: Path, tid: int) -> dict:
    paths = [p for p in g(bare, "ls-tree", "-r", "--name-only", "gitboard", ".tasks/").splitlines()
             if p.endswith(f"/{tid}.json") or p.endswith(f"_{tid}.json")]
    assert len(paths) == 1, paths
    return json.loads(g(bare, "show", f"gitboard:{paths[0]}"))


def run(remote: Remote, gitboard_exe: Path, a: Path, args: list[str], *, state: str = "committed",
        comes_back: bool) -> tuple[int, str, str]:
    """Run ``args`` with the connection cut in ``state``; the daemon comes back during the
    client's settling (``comes_back``) or only after the client gave up."""
    remote.arm(state)
    proc = start(gitboard_exe, a, args, settle=30 if comes_back else 1)
    remote.cut(proc)
    if comes_back:
        time.sleep(0.5)
        remote.restart()
        return finish(proc)
    res = finish(proc)
    remote.restart()
    return res


@pytest.mark.parametrize("comes_back", [True, False], ids=["settled", "repeated"])
def test_send_lands_once_and_says_so(served, gitboard_exe, run_gitboard, comes_back):
    remote, a = served
    args = ["send", "bob", "hello", "--as", "alice", "--json", "--id", "m1"]
    code, out, err = run(remote, gitboard_exe, a, args, comes_back=comes_back)
    if comes_back:
        assert code == 0, err
        assert json.loads(out)["id"] == "m1"
    else:
        assert code == 1 and "the outcome is unknown" in err and "--id m1" in err, (out, err)
        assert err.count("\n") == 1
        res = run_gitboard(args, cwd=a)
        assert res.exit_code == 0 and res.json()["id"] == "m1", res.stderr
    assert len(inbox_files(remote.bare, "bob")) == 1
    assert board_commits(remote.bare, "send") == 1


@pytest.mark.parametrize("comes_back", [True, False], ids=["settled", "repeated"])
def test_a_landed_drain_returns_its_messages(served, gitboard_exe, run_gitboard, run_cli, comes_back):
    remote, a = served
    for i in range(3):
        assert run_cli(["send", "bob", f"m{i}", "--as", "alice"], cwd=a).exit_code == 0
    code, out, err = run(remote, gitboard_exe, a, ["inbox", "bob", "--as", "bob", "--json"], comes_back=comes_back)
    if comes_back:
        assert code == 0, err
        got = json.loads(out)
    else:
        assert code == 1 and "the outcome is unknown" in err, err
        assert inbox_files(remote.bare, "bob") == []  # it landed: the remote drained them
        assert run_cli(["send", "bob", "later", "--as", "alice"], cwd=a).exit_code == 0
        res = run_gitboard(["inbox", "bob", "--as", "bob", "--json"], cwd=a)
        assert res.exit_code == 0, res.stderr
        got = res.json()
        assert got[-1]["content"] == "later"
        got = got[:-1]
        again = run_gitboard(["inbox", "bob", "--as", "bob", "--json"], cwd=a)
        assert again.exit_code == 0 and again.json() == []  # returned once
    assert [m["content"] for m in got] == ["m0", "m1", "m2"]
    assert inbox_files(remote.bare, "bob") == []


@pytest.mark.parametrize("comes_back", [True, False], ids=["settled", "repeated"])
def test_claim_next_lands_once(served, gitboard_exe, run_gitboard, run_cli, comes_back):
    remote, a = served
    for s in ("one", "two"):
        assert run_cli(["task", "add", s], cwd=a).exit_code == 0
    args = ["task", "claim", "--next", "--as", "alice", "--json"]
    code, out, err = run(remote, gitboard_exe, a, args, comes_back=comes_back)
    if comes_back:
        assert code == 0, err
        claimed = json.loads(out)
    else:
        assert code == 1 and "the outcome is unknown" in err, err
        res = run_gitboard(args, cwd=a)  # the repeat reports the landed claim, not a second one
        assert res.exit_code == 0, res.stderr
        claimed = res.json()
    assert claimed["id"] == 1 and claimed["owner"] == "alice"
    assert board_commits(remote.bare, "claim") == 1
    assert task_json(remote.bare, 2)["status"] == "pending"


@pytest.mark.parametrize("comes_back", [True, False], ids=["settled", "repeated"])
def test_done_lands_once(served, gitboard_exe, run_gitboard, run_cli, comes_back):
    remote, a = served
    assert run_cli(["task", "add", "one"], cwd=a).exit_code == 0
    assert run_cli(["task", "claim", "1", "--as", "alice"], cwd=a).exit_code == 0
    args = ["task", "done", "1", "--as", "alice", "--json"]
    code, out, err = run(remote, gitboard_exe, a, args, comes_back=comes_back)
    if comes_back:
        assert code == 0, err
        done = json.loads(out)
    else:
        assert code == 1 and "the outcome is unknown" in err, err
        res = run_gitboard(args, cwd=a)
        assert res.exit_code == 0, res.stderr
        done = res.json()
    assert done["status"] == "completed"
    assert board_commits(remote.bare, "done") == 1


@pytest.mark.parametrize("comes_back", [True, False], ids=["settled", "repeated"])
def test_merge_moves_base_and_board_once(served, gitboard_exe, run_gitboard, run_cli, comes_back):
    remote, a = served
    tid = completed_task(run_cli, a, "One", {"one.txt": "1\n"}, push=True, approve=True)
    code, out, err = run(remote, gitboard_exe, a, ["merge", "--json"], comes_back=comes_back)
    if comes_back:
        assert code == 0, err
        assert json.loads(out)["merged"] == [tid]
    else:
        assert code == 1 and "the outcome is unknown" in err, err
        res = run_gitboard(["merge", "--json"], cwd=a)
        assert res.exit_code == 0, res.stderr
        assert res.json()["merged"] == []  # nothing left to merge: the first one landed
    subjects = g(remote.bare, "log", "--first-parent", "--format=%s", "main").splitlines()
    assert subjects.count(f"Merge task #{tid}: One") == 1
    assert task_json(remote.bare, tid)["status"] == "merged"
    assert board_commits(remote.bare, "merge") == 1


@pytest.mark.parametrize("args", [["send", "bob", "hi", "--as", "alice", "--id", "m9"],
                                  ["task", "claim", "--next", "--as", "alice"]], ids=["send", "claim"])
def test_a_cut_before_the_commit_changes_nothing_and_says_so(served, gitboard_exe, run_gitboard, run_cli, args):
    remote, a = served
    assert run_cli(["task", "add", "one"], cwd=a).exit_code == 0
    before = g(remote.bare, "rev-parse", "gitboard")
    code, out, err = run(remote, gitboard_exe, a, args, state="prepared", comes_back=True)
    assert code == 1 and "nothing changed" in err, err
    assert err.count("\n") == 1
    assert g(remote.bare, "rev-parse", "gitboard") == before
    # the killed receive-pack held the ref's lock in the prepared state: the server's own clean-up
    (remote.bare / "refs" / "heads" / "gitboard.lock").unlink()
    res = run_gitboard(args, cwd=a)  # and a repeat does it, once
    assert res.exit_code == 0, res.stderr
    assert g(remote.bare, "rev-list", "--count", f"{before}..gitboard") == "1"
