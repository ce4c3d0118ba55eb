"""Entry points users already have keep working after the package redesign (gitboard-move: keep):
a hook written by an earlier ``gitboard hook install`` (it runs ``gitboard/hook_entry.py``),
``gitboard.team.refinery.run_queue`` and ``gitboard.store.review.review_task``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitboard.store.hooks import package_root
from tests.conftest import _git

#: The pre-receive script as ``gitboard hook install`` wrote it before the hook files moved.
OLD_HOOK = '#!/bin/sh\n# gitboard pre-receive hook: every pushed board commit is checked against gitboard\'s rules.\n# ID: gitboard-pre-receive-7f3c2a91 (lets \'gitboard hook install/uninstall\' recognise this file)\n# Written by \'gitboard hook install\', which records the Python it was installed with and the\n# directory holding its gitboard package; this file also works copied by hand (it then runs\n# the \'gitboard\' found on PATH). The server needs gitboard installed.\n# Settings: git config gitboard.hook.*\nGITBOARD_PYTHON=\'\'\nGITBOARD_PATH=\'\'\nGITBOARD_SERVER=1\nif [ -n "$GITBOARD_PYTHON" ] && [ -x "$GITBOARD_PYTHON" ]; then\n    if [ -n "$GITBOARD_PATH" ] && [ -f "$GITBOARD_PATH/gitboard/hook_entry.py" ]; then\n        # isolated, without site (a push waits for start-up): GITBOARD_SERVER (1: the warm\n        # hook server judges the push, gitboard/hook_server.py); hook_entry.py puts\n        # GITBOARD_PATH on sys.path, and falls back to \'-m gitboard\' if anything is missing\n        exec "$GITBOARD_PYTHON" -I -S "$GITBOARD_PATH/gitboard/hook_entry.py" "$GITBOARD_PATH" "$GITBOARD_SERVER"\n    fi\n    exec "$GITBOARD_PYTHON" -m gitboard hook-impl pre-receive\nelif command -v gitboard >/dev/null 2>&1; then\n    exec gitboard hook-impl pre-receive\nelse\n    echo "gitboard: refused: gitboard is not installed on this server (pip install gitboard-team)" >&2\n    exit 1\nfi\n'


def test_the_old_merge_queue_and_review_names_are_the_new_functions():
    from gitboard.merge_queue.queue import run_queue
    from gitboard.store.review import review_task
    from gitboard.team.refinery import run_queue as old_run_queue

    assert old_run_queue is run_queue and callable(review_task)


def test_a_hook_installed_before_the_move_still_runs_gitboard_isolated(tmp_path: Path):
    """The script an earlier install wrote runs ``python -I -S <dir>/gitboard/hook_entry.py``,
    which still judges the push (with and without the warm hook server): a bad skew setting
    is refused in one line by gitboard itself."""
    server = tmp_path / "srv.git"
    _git(tmp_path, "init", "-q", "--bare", "--template=", str(server))
    _git(server, "config", "gitboard.hook.skew", "soon")
    hook = server / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    line = "0" * 40 + " " + "1" * 40 + " refs/heads/gitboard\n"
    for warm in ("0", "1"):
        text = OLD_HOOK.replace("GITBOARD_PYTHON=''", f"GITBOARD_PYTHON='{sys.executable}'")
        text = text.replace("GITBOARD_PATH=''", f"GITBOARD_PATH='{package_root()}'")
        text = text.replace("GITBOARD_SERVER=1", f"GITBOARD_SERVER={warm}").replace("#!/bin/sh", "#!/bin/sh -x", 1)
        hook.write_text(text)
        hook.chmod(0o755)
        p = subprocess.run([str(hook)], input=line, cwd=server, capture_output=True, text=True)
        assert p.returncode == 1 and p.stderr.splitlines()[-1].startswith(
            "gitboard: error: gitboard.hook.skew must be a number"), p.stderr
        assert any(ln.startswith("+ exec ") and " -I -S " in ln and ln.split()[5].endswith("gitboard/hook_entry.py")
                   for ln in p.stderr.splitlines()), p.stderr
