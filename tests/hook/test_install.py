"""``gitboard hook install|uninstall``: a thin script that records its interpreter, touches only its
own file, and sets what the hook relies on; ``hooks/pre-receive`` in the source tree is that script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitboard.store.hooks import HOOK_ID, is_ours, pre_receive_main, render, template
from tests.conftest import _git

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Path:
    path = tmp_path / "srv.git"
    _git(tmp_path, "init", "-q", "--bare", "--template=", str(path))  # no hook from the test template
    return path


def test_install_writes_the_script_and_the_config(server, run_cli, git):
    res = run_cli(["hook", "install", str(server), "--lead", "ann", "--lead", "bo", "--skew", "30", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    hook = server / "hooks" / "pre-receive"
    assert doc["hook"] == str(hook) and doc["legacy"] is None and doc["leads"] == ["ann", "bo"]
    text = hook.read_text()
    assert HOOK_ID in text and f"GITBOARD_PYTHON={sys.executable}" in text
    assert os.access(hook, os.X_OK)
    assert git(server, "config", "receive.fsckObjects") == "true"
    # nothing repository-wide that would override the server's per-branch permissions
    assert git(server, "config", "receive.denyNonFastForwards", check=False) == ""
    assert git(server, "config", "receive.denyDeletes", check=False) == ""
    assert git(server, "config", "--get-all", "gitboard.hook.leads").split() == ["ann", "bo"]
    assert git(server, "config", "gitboard.hook.skew") == "30"
    res = run_cli(["hook", "install", str(server), "--lead", "cy", "--json"])   # reinstall: leads replaced
    assert res.exit_code == 0 and res.json()["leads"] == ["cy"] and res.json()["legacy"] is None


def test_a_foreign_hook_is_kept_run_first_and_restored(server, run_cli, tmp_path):
    hook = server / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    marker = tmp_path / "legacy-ran"
    hook.write_text(f"#!/bin/sh\ncat > {marker}\nexit 0\n")
    hook.chmod(0o755)
    res = run_cli(["hook", "install", str(server), "--json"])
    assert res.exit_code == 0 and res.json()["legacy"] == str(hook) + ".legacy"
    assert is_ours(hook) and not is_ours(Path(str(hook) + ".legacy"))
    assert run_cli(["hook", "install", str(server)]).exit_code == 0          # reinstall leaves the legacy alone
    assert "cat >" in Path(str(hook) + ".legacy").read_text()
    line = b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/other\n"
    assert pre_receive_main(line, cwd=str(server)) == 0 and marker.read_bytes() == line
    Path(str(hook) + ".legacy").write_text("#!/bin/sh\nexit 7\n")
    assert pre_receive_main(line, cwd=str(server)) == 1
    res = run_cli(["hook", "uninstall", str(server), "--json"])
    assert res.exit_code == 0 and res.json() == {"removed": True, "restored": str(hook)}
    assert "exit 7" in hook.read_text() and not Path(str(hook) + ".legacy").exists()
    assert run_cli(["hook", "uninstall", str(server), "--json"]).json()["removed"] is False  # not ours: kept
    assert hook.exists()


def test_bad_input_is_one_line_and_changes_nothing(server, run_cli, git, tmp_path):
    res = run_cli(["hook", "install", str(server), "--lead", "Not A Name"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and not (server / "hooks" / "pre-receive").exists()
    res = run_cli(["hook", "install", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and res.stderr.startswith("gitboard: error: not a git repository")
    git(server, "config", "core.hooksPath", "/elsewhere")
    res = run_cli(["hook", "install", str(server)])
    assert res.exit_code == 2 and "core.hooksPath" in res.stderr
    assert git(server, "config", "receive.fsckObjects", check=False) == ""


def test_the_source_trees_hook_is_the_shipped_template():
    shipped = ROOT / "hooks" / "pre-receive"
    assert shipped.read_text() == template() and os.access(shipped, os.X_OK)
    assert "GITBOARD_PYTHON=''" in template()


def test_an_uninstalled_copy_runs_the_gitboard_on_path(server):
    """Copied by hand, the script finds ``gitboard`` on PATH; without one it refuses in one line."""
    hook = server / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(template())
    hook.chmod(0o755)
    line = "0" * 40 + " " + "1" * 40 + " refs/heads/other\n"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    p = subprocess.run([str(hook)], input=line, cwd=server, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([str(hook)], input=line, cwd=server, env={**env, "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr == "gitboard: refused: gitboard is not installed on this server " \
                                             "(pip install gitboard-team)\n"


def test_the_hook_refuses_when_it_cannot_judge(server, capfd):
    """A gitboard failure inside the hook refuses the push (fail closed), in one line."""
    _git(server, "config", "gitboard.hook.skew", "soon")
    line = b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/gitboard\n"
    assert pre_receive_main(line, cwd=str(server)) == 1
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gitboard: error: gitboard.hook.skew must be a number")


def test_the_installed_hook_starts_isolated_and_falls_back(server, tmp_path):
    """The installed script runs ``python -I -S hook/entry.py <package dir>`` (no site); with a
    recorded directory that no longer holds gitboard, it runs ``python -m gitboard`` instead.
    Both judge the push: a bad skew setting is refused in one line by gitboard itself."""
    _git(server, "config", "gitboard.hook.skew", "soon")
    line = "0" * 40 + " " + "1" * 40 + " refs/heads/gitboard\n"
    hook = server / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    for root, flags in ((str(ROOT), " -I -S "), (str(tmp_path / "gone"), " -m gitboard ")):
        text = render(sys.executable, root)
        assert f"GITBOARD_PATH={root}" in text
        hook.write_text(text.replace("#!/bin/sh", "#!/bin/sh -x", 1))
        hook.chmod(0o755)
        p = subprocess.run([str(hook)], input=line, cwd=server, capture_output=True, text=True)
        assert p.returncode == 1 and p.stderr.splitlines()[-1].startswith(
            "gitboard: error: gitboard.hook.skew must be a number"), p.stderr
        assert any(l.startswith("+ exec ") and flags in l for l in p.stderr.splitlines()), p.stderr


def test_no_server_is_written_into_the_script(server, run_cli):
    """``--no-server`` writes a hook whose own process judges every push; the default uses the
    warm hook server (tests/hook/test_hook_server.py)."""
    hook = server / "hooks" / "pre-receive"
    res = run_cli(["hook", "install", str(server), "--json"])
    assert res.exit_code == 0 and res.json()["server"] is True and "GITBOARD_SERVER=1" in hook.read_text()
    res = run_cli(["hook", "install", str(server), "--no-server", "--json"])
    assert res.exit_code == 0 and res.json()["server"] is False
    assert "GITBOARD_SERVER=0" in hook.read_text() and "GITBOARD_SERVER=1" not in hook.read_text()
    res = run_cli(["hook", "install", str(server), "--no-server"])
    assert res.exit_code == 0 and "pushes judged in the hook's own process" in " ".join(res.stdout.split())
