"""Domain errors and the exit codes they map to.

Every failure gitboard reports is a :class:`BoardError`. Its ``kind`` names the
class of failure and ``exit_code`` is the process exit status the CLI uses; the
table is part of the documented contract (docs/reference/exit-codes.md):

====  ==========  ====================================================
code  kind        meaning
====  ==========  ====================================================
1     error       git failure, unreachable remote, corrupt board file,
                  a write whose outcome is unknown (kind ``unknown``), a
                  local board branch diverged from the remote's (``diverged``)
2     invalid     usage or invalid value
3     conflict    claimed by another, not the owner, invalid transition,
                  a push refused by the remote's pre-receive hook
4     not_found   no such task / member / request, nothing ready
====  ==========  ====================================================

Domain errors (:class:`Invalid`, :class:`Conflict`, :class:`NotFound`) are
answers: the transaction function never retries them.
"""

from __future__ import annotations


class BoardError(Exception):
    """Base of every gitboard error; ``kind`` and ``exit_code`` as in the module table."""

    kind = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        """Return ``{"error": {"kind": str, "message": str}}``, the ``--json`` error document."""
        return {"error": {"kind": self.kind, "message": self.message}}


class Invalid(BoardError):
    """A value is malformed: bad name, empty subject, unknown status, cycle (exit 2)."""

    kind = "invalid"
    exit_code = 2


class Conflict(BoardError):
    """The board's state forbids the change: owned by another, not the owner, illegal transition (exit 3)."""

    kind = "conflict"
    exit_code = 3


class HookRefused(Conflict):
    """The remote's pre-receive hook refused a push (exit 3): an answer, never retried.

    ``message`` names the remote and carries the hook's first reason, e.g.
    ``origin refused the push: gitboard: refused <commit>: claim of #3: ...``.
    """

    kind = "refused"


class CheckoutDirty(Conflict):
    """The base branch is checked out with uncommitted changes to files a merge would touch (exit 3)."""

    kind = "checkout_dirty"


class NotFound(BoardError):
    """No such task, member or request, or nothing ready to claim (exit 4)."""

    kind = "not_found"
    exit_code = 4


class GitFailure(BoardError):
    """git failed, the remote is unreachable, or the repository has no board (exit 1)."""

    kind = "git"
    exit_code = 1


class Diverged(GitFailure):
    """Remote mode: the local board branch has commits the remote's board lacks (exit 1).

    gitboard never makes such commits in remote mode (it pushes first, then
    fast-forwards the local branch to what landed), so they were made by hand or
    before the clone had its remote. Like a missing board, it is a state of the
    repository for its user to mend, not an answer about a task: whoever handles a
    git failure (a teammate keeps its claim and its commit, and tries again later)
    handles it. Nothing is dropped: the user keeps the commits under another name and
    runs ``gitboard sync``, as the message says.
    """

    kind = "diverged"


class Corrupt(BoardError):
    """A board file does not parse or does not match its format (exit 1)."""

    kind = "corrupt"
    exit_code = 1


class Busy(BoardError):
    """The transaction kept losing races until its deadline passed (exit 1)."""

    kind = "busy"
    exit_code = 1


class OutcomeUnknown(GitFailure):
    """A push's connection dropped and the remote stayed unreachable, so whether the write landed is
    unknown (exit 1). Not a failure: the write may have succeeded. The clone keeps a record of it,
    and its next transaction settles it (:mod:`gitboard.store.settle`): a repeat of the same
    operation then returns the landed write's result instead of writing again.

    Attributes:
        commit: the board commit whose fate is unknown.
    """

    kind = "unknown"

    def __init__(self, message: str, commit: str = "") -> None:
        super().__init__(message)
        self.commit = commit
