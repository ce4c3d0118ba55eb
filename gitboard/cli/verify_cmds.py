"""``gitboard verify``: replay the board's rules over its history (for servers that cannot run the hook)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from gitboard.board.text import safe
from gitboard.cli.common import JSON_OPT, OFFLINE_OPT, emit, open_repo


def verify(
    since: Optional[str] = typer.Option(None, "--since", metavar="COMMIT",
                                        help="Check only the commits after COMMIT (default: the whole history)."),
    skew: float = typer.Option(0.0, "--skew", metavar="SECONDS", min=0,
                               help="Seconds a lease is honoured past its end (the holder's allowance)."),
    offline: bool = OFFLINE_OPT,
    json_: bool = JSON_OPT,
) -> int:
    """Check every board commit against the rules the pre-receive hook enforces; exit 1 on any violation.

    Prints one line per violation (commit, action, actor, reason). Leases are judged by
    each commit's committer time, so misdated commits are reported too: dated more than
    300 s after this machine's clock, or more than 300 s before their parent.
    --json prints {"commits": N, "violations": [...]}.
    """
    from gitboard.board.errors import Invalid
    from gitboard.store.read import current_tip
    from gitboard.store.verify import check_range

    with open_repo(offline) as repo:
        tip = current_tip(repo)
        old = None
        if since is not None:
            old = repo.resolve(since)
            if old is None:
                raise Invalid(f"--since: no such commit {since!r}")
        report, _ = check_range(repo, old, tip, skew=skew)

    def human() -> None:
        for v in report.violations:
            sys.stdout.write(safe(v.line()) + "\n")
        if not report.violations:
            sys.stdout.write(f"{report.commits} commit{'s' if report.commits != 1 else ''} checked: no violations\n")

    emit(json_, report.to_json(), human)
    if report.violations:
        n = len(report.violations)
        sys.stderr.write(f"gitboard: {n} violation{'s' if n != 1 else ''} in {report.commits} commits\n")
        return 1
    return 0
