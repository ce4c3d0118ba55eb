"""What an operation returns: the files it changes and the commit message.

A :class:`Change` is the whole effect of one board operation. The store turns it
into exactly one commit whose parent is the tip the operation read. Commit
messages carry git trailers (see ``git interpret-trailers``)::

    claim #3 by alice

    Gitboard-Action: claim
    Gitboard-Task: 3
    Gitboard-Actor: alice
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

#: Trailer keys gitboard writes; ``gitboard log`` reads them back.
ACTION, TASK, ACTOR, REQUEST, TAKEOVER = (
    "Gitboard-Action", "Gitboard-Task", "Gitboard-Actor", "Gitboard-Request", "Gitboard-Takeover-From")


@dataclass(frozen=True)
class Change:
    """One board transition.

    Attributes:
        writes: board path -> new file bytes, or None to delete the file.
        subject: the commit subject line, e.g. ``claim #3 by alice``.
        trailers: ordered (key, value) git trailers; always includes Gitboard-Action and Gitboard-Actor.
        result: what the caller gets back (for example the task after the change).
    """

    writes: Mapping[str, bytes | None]
    subject: str
    trailers: tuple[tuple[str, str], ...]
    result: Any = None
    body: str = ""

    def message(self) -> str:
        """Return the full commit message: subject, optional body, blank line, trailers."""
        parts = [self.subject]
        if self.body:
            parts += ["", self.body]
        parts += ["", "\n".join(f"{k}: {v}" for k, v in self.trailers)]
        return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class NoChange:
    """An operation that needs no commit (an idempotent repeat); ``result`` is returned as is."""

    result: Any = None


def trailers(action: str, actor: str, task: int | str | None = None,
             *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Build the standard trailers: Gitboard-Action, Gitboard-Task (if any), Gitboard-Actor, then ``extra`` pairs."""
    out = [(ACTION, action)]
    if task is not None:
        out.append((TASK, str(task)))
    out.append((ACTOR, actor))
    out.extend(extra)
    return tuple(out)
