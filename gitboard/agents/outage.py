"""Logging a read that keeps failing once per outage, not once per poll."""

from __future__ import annotations

from typing import Callable


class Outage:
    """A latch for one thing a teammate polls (``what``: "the board", "the inbox").

    :meth:`failed` logs ``cannot read <what> (<reason>); will keep trying`` the first
    time only; :meth:`ok` logs ``<what> is readable again`` once after a failure.
    ``log`` takes one line of text.
    """

    def __init__(self, log: Callable[[str], None], what: str) -> None:
        self.log = log
        self.what = what
        self.down = False

    def failed(self, reason: str) -> None:
        """Record a failed read; logs only when an outage starts."""
        if not self.down:
            self.log(f"cannot read {self.what} ({reason}); will keep trying")
        self.down = True

    def ok(self) -> None:
        """Record a good read; logs only when an outage ends."""
        if self.down:
            self.log(f"{self.what} is readable again")
        self.down = False
