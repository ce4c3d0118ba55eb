"""The warm hook server (``gitboard/hook/server.py``): pushes judged by a forked child of one
warm process per user and installation, with the same answers as the hook's own process.

Each test runs a server of its own: the hook is rendered for a copy of the ``gitboard``
package in the test's directory (the server's name is per installation), so the suite's
shared server is never touched, and a test may edit "its" installation.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.hook.entry import server_name
from gitboard.store.hooks import render
from gitboard.store.repo import BoardRepo
from tests.conftest import _git, board_tip
from tests.hook.test_forged_pushes import forge, task_file, trailers
from tests.helpers.board_helpers import do

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hook server is Linux-only")


def server_pid(root: Path) -> int | None:
    """The pid of the hook server for installation ``root`` (None: none is listening)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(server_name(sys.executable, str(root), os.getuid()))
        cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        return int.from_bytes(cred[:4], sys.byteorder)
    except OSError:
        return None
    finally:
        s.close()


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def stop(pid: int | None) -> None:
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def install_copy(tmp_path: Path):
    """A copy of the gitboard package (an installation of the test's own) and a bare remote whose
    hook runs it; yields ``(root, bare, hook)`` and stops that installation's server afterwards."""
    root = tmp_path / "install"
    shutil.copytree(ROOT / "gitboard", root / "gitboard", ignore=shutil.ignore_patterns("__pycache__"))
    bare = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(bare))
    hook = bare / "hooks" / "pre-receive"

    def write(server: bool = True) -> None:
        hook.write_text(render(sys.executable, str(root), server=server))
        hook.chmod(0o755)

    write()
    _git(bare, "config", "receive.denyNonFastForwards", "true")
    yield root, bare, write
    stop(server_pid(root))


def clone_of(bare: Path, path: Path) -> Path:
    """A clone of ``bare`` in remote mode, its board initialised (the first clone pushes it)."""
    from gitboard.store.setup import init

    _git(path.parent, "clone", "-q", str(bare), str(path))
    with BoardRepo(path) as r:
        init(r, actor="lead", team_name="srv", remote="origin")
    return path


def steal_push(clone: Path, task_id: int) -> subprocess.CompletedProcess:
    """Push, with plain git, a claim of ``task_id`` by bob over alice's running lease."""
    _git(clone, "fetch", "-q", "origin")
    commit = forge(clone, dict([task_file(clone, task_id, owner="bob", claimed_at="2030-01-01T00:00:00Z")]),
                   trailers("claim", "bob", task_id))
    return subprocess.run(["git", "push", "--porcelain", "origin", f"{commit}:refs/heads/gitboard"],
                          cwd=clone, capture_output=True, text=True)


def team(clone: Path) -> None:
    do(clone, partial(roster_ops.add_member, actor="lead", name="alice"))
    do(clone, partial(roster_ops.add_member, actor="lead", name="bob"))


def test_the_first_push_starts_a_server_that_judges_the_next(install_copy, tmp_path):
    root, bare, _ = install_copy
    assert server_pid(root) is None
    alice = clone_of(bare, tmp_path / "alice")  # init's push: judged in-process, starts the server
    pid = wait_for(lambda: server_pid(root))
    team(alice)
    assert "hook/server.py" in Path(f"/proc/{pid}/cmdline").read_text()
    do(alice, partial(task_ops.add, actor="lead", subject="one"))
    do(alice, partial(task_ops.add, actor="lead", subject="two"))
    claimed = do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    assert claimed.owner == "alice" and board_tip(bare) == board_tip(alice)
    p = steal_push(alice, 1)
    assert p.returncode != 0
    refusals = [l for l in p.stderr.splitlines() if "gitboard: refused" in l]
    assert len(refusals) == 1 and "claimed by alice" in refusals[0], p.stderr
    assert board_tip(bare) == board_tip(alice)
    assert server_pid(root) == pid  # the same warm server served every push


def test_the_server_answers_a_request_itself(install_copy, tmp_path, capfd):
    """Asked directly (as the installed script asks it), the server judges the push in a child
    that writes to the hook's own stderr and sends back the exit status."""
    from gitboard.hook.entry import ask_server

    root, bare, _ = install_copy
    alice = clone_of(bare, tmp_path / "alice")
    wait_for(lambda: server_pid(root))
    tip = board_tip(bare)
    line = f"{tip} {'0' * 40} refs/heads/gitboard\n".encode()  # a deletion of the board branch
    cwd = os.getcwd()
    os.chdir(bare)
    try:
        status = ask_server(str(root), line)
    finally:
        os.chdir(cwd)
    err = capfd.readouterr().err
    assert status == 1, err
    assert err == f"gitboard: refused {'0' * 40}: deletion of the board branch refs/heads/gitboard\n"
    assert board_tip(bare) == tip and alice.exists()


def test_a_changed_installation_is_not_served_stale_code(install_copy, tmp_path):
    root, bare, _ = install_copy
    alice = clone_of(bare, tmp_path / "alice")
    old = wait_for(lambda: server_pid(root))
    module = root / "gitboard" / "board" / "rules.py"
    module.write_text(module.read_text() + "\n# edited\n")  # an upgrade, say
    do(alice, partial(task_ops.add, actor="lead", subject="after the edit"))  # judged, and landed
    wait_for(lambda: not Path(f"/proc/{old}").exists())
    new = wait_for(lambda: server_pid(root))
    assert new != old
    assert do(alice, partial(task_ops.claim, actor="alice", task_id=1)).owner == "alice"
    assert server_pid(root) == new


def test_a_killed_server_costs_nothing_but_time(install_copy, tmp_path):
    root, bare, _ = install_copy
    alice = clone_of(bare, tmp_path / "alice")
    old = wait_for(lambda: server_pid(root))
    team(alice)
    do(alice, partial(task_ops.add, actor="lead", subject="one"))
    stop(old)
    wait_for(lambda: not Path(f"/proc/{old}").exists() or "Z" in Path(f"/proc/{old}/stat").read_text().split()[2])
    assert do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=600)).owner == "alice"
    assert steal_push(alice, 1).returncode != 0  # still judged, in the hook's own process meanwhile
    assert wait_for(lambda: server_pid(root)) != old


def test_no_server_judges_in_the_hooks_own_process(install_copy, tmp_path):
    root, bare, write = install_copy
    write(server=False)
    assert "GITBOARD_SERVER=0" in (bare / "hooks" / "pre-receive").read_text()
    alice = clone_of(bare, tmp_path / "alice")
    team(alice)
    do(alice, partial(task_ops.add, actor="lead", subject="one"))
    assert do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=600)).owner == "alice"
    assert steal_push(alice, 1).returncode != 0
    time.sleep(0.5)
    assert server_pid(root) is None


def test_a_board_the_server_read_is_never_taken_for_another(install_copy, tmp_path):
    """The server keeps the board it read at the remote's tip; when the tip moves by other means
    (a rewind done on the server itself), the next push is judged against the real tip."""
    root, bare, _ = install_copy
    alice = clone_of(bare, tmp_path / "alice")
    wait_for(lambda: server_pid(root))
    team(alice)
    do(alice, partial(task_ops.add, actor="lead", subject="one"))
    before_claim = board_tip(bare)
    do(alice, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    time.sleep(0.3)  # the server has refreshed: it holds the board where alice owns #1
    _git(bare, "update-ref", "refs/heads/gitboard", before_claim)  # an admin's rewind, bypassing hooks
    bob = clone_of(bare, tmp_path / "bob")
    assert do(bob, partial(task_ops.claim, actor="bob", task_id=1, lease=600)).owner == "bob"
    _git(bob, "fetch", "-q", "origin")
    again = forge(bob, dict([task_file(bob, 1, owner="alice", claimed_at="2030-01-01T00:00:00Z")]),
                  trailers("claim", "alice", 1))
    p = subprocess.run(["git", "push", "--porcelain", "origin", f"{again}:refs/heads/gitboard"],
                       cwd=bob, capture_output=True, text=True)
    assert p.returncode != 0 and "claimed by bob" in p.stderr, p.stderr  # judged on the real tip
