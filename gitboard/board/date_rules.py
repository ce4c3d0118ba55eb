"""The rules of a board commit's date, for ``gitboard verify``. Pure.

``verify`` replays history judging each commit by its own committer date (the pre-receive
hook judges by the server's clock instead), and a pusher chooses that date. So ``verify``
also reports the dates themselves:

- a commit dated more than :data:`FUTURE_TOLERANCE` seconds after the verifier's clock: a
  claim dated ahead would otherwise pass into a lease that is still live;
- a commit dated more than :data:`FUTURE_TOLERANCE` seconds before its parent: dates out
  of order along the history (clients' clocks differ by a little; by more, one of them is
  wrong or the date is forged).
"""

from __future__ import annotations

from datetime import datetime, timezone

from gitboard.board.clock import iso

#: Seconds a commit's date may lie ahead of the verifier's clock, or behind its parent's date.
FUTURE_TOLERANCE = 300.0

#: The rule name of a date's violation.
DATES = "dates"


def date_refusals(when: int, parent_when: int | None, now: datetime,
                  tolerance: float = FUTURE_TOLERANCE) -> list[str]:
    """Why a commit dated ``when`` (committer time, epoch seconds) is misdated, given its parent's
    date ``parent_when`` (None for a root commit) and the verifier's clock ``now``; empty if not."""
    out = []
    ahead = when - now.timestamp()
    if ahead > tolerance:
        out.append(f"dated {_show(when)}, {ahead:.0f} s after the verifier's clock ({iso(now)}); "
                   f"more than {tolerance:g} s in the future")
    if parent_when is not None and parent_when - when > tolerance:
        out.append(f"dated {_show(when)}, {parent_when - when} s before its parent ({_show(parent_when)}): "
                   f"dates out of order along the history")
    return out


def _show(when: int) -> str:
    try:
        return iso(datetime.fromtimestamp(when, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return f"@{when}"
