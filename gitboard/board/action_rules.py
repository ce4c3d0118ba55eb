"""The rules of each action, for :func:`gitboard.board.rules.check_commit`.

Each handler gets the commit being checked (:class:`Check`, which collects
:class:`Violation` s), the board before it and what it changed
(:class:`Diff`), and reports what its action may not do. Which actions exist,
and which kinds of board file each may touch, is :data:`ACTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Collection, Mapping

from gitboard.board import layout
from gitboard.board.change import REQUEST, TASK
from gitboard.board.message import (
    BROADCAST, INBOX_DIR, PLAN_REQUEST, PLAN_RESPONSE, SHUTDOWN_REQUEST, SHUTDOWN_RESPONSE, Message,
)
from gitboard.board.names import LEAD
from gitboard.board.permits import claim_refusal, drain_refusal, owner_refusal, release_refusal, status_refusal, \
    answer_refusal, run_refusal
from gitboard.board.request import APPROVED, PENDING as REQ_PENDING, PLAN, SHUTDOWN, Request
from gitboard.board.review_ops import is_object_id
from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, FAILED, IN_PROGRESS, PENDING, TASK_FIELDS, Task
from gitboard.board.roster import CONFIG_PATH, Member

# -- rule names (the ``rule`` of a Violation) ---------------------------------------
TRAILERS, LAYOUT, FORMAT, HISTORY, ACTION_RULE, CLAIM, OWNER, LEAD_ONLY, MESSAGES, REQUESTS, ROSTER = (
    "trailers", "layout", "format", "history", "action", "claim", "owner", "lead", "messages", "requests",
    "roster")


@dataclass(frozen=True)
class Violation:
    """One broken rule in one commit.

    Attributes:
        commit: the commit id ("" when checking a change not yet committed).
        action: its ``Gitboard-Action`` ("" if none).
        actor: its ``Gitboard-Actor`` ("" if none).
        rule: which rule: trailers, layout, format, history, action, claim, owner, lead,
            messages, requests, roster (or the hook's identity, branch).
        message: why, in one line (names the path or task).
        path: the board path concerned, if one.
    """

    commit: str
    action: str
    actor: str
    rule: str
    message: str
    path: str | None = None

    def to_json(self) -> dict:
        """Return ``{"commit", "action", "actor", "reason"}`` (the ``verify --json`` entry)."""
        return {"commit": self.commit, "action": self.action, "actor": self.actor, "reason": self.message}

    def line(self) -> str:
        """Return the one-line form: ``<commit> <action> by <actor>: <message>``."""
        return f"{self.commit or '(uncommitted)'} {self.action or '-'} by {self.actor or '-'}: {self.message}"


TASK_FILE, ROSTER_FILE, MESSAGE_FILE, REQUEST_FILE, FORMAT_KIND = (
    layout.TASK, layout.ROSTER, layout.MESSAGE, layout.REQUEST, layout.FORMAT_FILE)


def _recipient_of(path: str, version: int) -> str:
    """The inbox a message path is in (any format)."""
    found = layout.classify(path, version) or layout.classify(path, layout.LEGACY_FORMAT)
    return str(found.key) if found is not None else path


@dataclass
class Diff:
    """What one commit changed, by kind of board file (built by :func:`gitboard.board.rules.check_commit`).

    Attributes:
        tasks: id -> (task before or None, task after or None).
        added, removed: messages added (path, Message) and removed (path, parsed JSON or None).
        requests: path -> (request before or None, request after).
        roster: member name -> (entry before or None, entry after or None).
        team_renamed: the roster's team name changed.
        kinds: every changed board path -> its kind (:func:`gitboard.board.layout.classify`).
    """

    tasks: dict[int, tuple[Task | None, Task | None]] = field(default_factory=dict)
    added: list[tuple[str, Message]] = field(default_factory=list)
    removed: list[tuple[str, Any]] = field(default_factory=list)
    requests: dict[str, tuple[Request | None, Request | None]] = field(default_factory=dict)
    roster: dict[str, tuple[Member | None, Member | None]] = field(default_factory=dict)
    team_renamed: bool = False
    kinds: dict[str, str] = field(default_factory=dict)  # path -> kind, every changed board path


class Check:
    """The violations of one commit, gathered as the checks run."""

    def __init__(self, commit: str, action: str, actor: str, now: datetime, skew: float,
                 version: int = layout.FORMAT, runners: Collection[str] | None = None) -> None:
        self.commit, self.action, self.actor, self.now, self.skew = commit, action, actor, now, skew
        self.version = version  # the board's format after the commit
        self.runners = runners  # who besides the lead may set a run command; None: not judged
        self.found: list[Violation] = []

    def runner(self, task_id: int) -> None:
        """Record a violation if this commit's actor may not set task ``task_id``'s run command."""
        why = run_refusal(self.actor, self.runners) if self.runners is not None else None
        if why:
            self.bad(LEAD_ONLY, f"task #{task_id}: {why}", self.tpath(task_id))

    def tpath(self, task_id: int) -> str:
        """Task ``task_id``'s path in the board's format."""
        return layout.task_path(task_id, self.version)

    def bad(self, rule: str, message: str, path: str | None = None) -> None:
        """Record a :class:`Violation` of ``rule`` by this commit."""
        self.found.append(Violation(self.commit, self.action, self.actor, rule, message, path))


# -- the rules of each action ---------------------------------------------------------------

#: Task fields each single-task action may change (``update`` is checked field by field).
_CLAIM_FIELDS = frozenset({"status", "owner", "claimed_at", "lease_expires_at", "updated_at"})
_RENEW_FIELDS = frozenset({"lease_expires_at", "updated_at"})
_FINISH_FIELDS = frozenset({"status", "lease_expires_at", "updated_at", "result"})
_UPDATE_FIELDS = frozenset({"subject", "description", "blockedBy", "run", "role", "status", "owner",
                            "claimed_at", "lease_expires_at", "updated_at"})


def _changed_fields(old: Task, new: Task) -> set[str]:
    """Names of the task keys whose values differ (a key left out of the file counts as its default)."""
    out = {k for k in TASK_FIELDS if k != "extra" and getattr(old, k) != getattr(new, k)}
    a, b = old.extra, new.extra
    return out | {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def _one_task(c: Check, d: Diff, trailers: Mapping[str, list[str]]) -> tuple[Task, Task] | None:
    """The one existing task a single-task action changed (its trailer must name it), or None (reported)."""
    if len(d.tasks) != 1:
        c.bad(ACTION_RULE, f"a {c.action} changes exactly one task, not {len(d.tasks)}")
        return None
    (tid, (old, new)), = d.tasks.items()
    if old is None or new is None:
        c.bad(ACTION_RULE, f"a {c.action} changes an existing task; task #{tid} is new", c.tpath(tid))
        return None
    named = trailers.get(TASK, [])
    if named != [str(tid)]:
        c.bad(TRAILERS, f"the {TASK} trailer must name task #{tid}, not {', '.join(named) or 'none'}", c.tpath(tid))
    return old, new


def _only_fields(c: Check, old: Task, new: Task, allowed: frozenset[str]) -> bool:
    extra = _changed_fields(old, new) - allowed
    if extra:
        c.bad(ACTION_RULE, f"a {c.action} of task #{old.id} may not change {', '.join(sorted(extra))}",
              c.tpath(old.id))
    return not extra


def _check_new_tasks(c: Check, before: Board, d: Diff, many: bool) -> None:
    new_ids = sorted(d.tasks)
    olds = [tid for tid in new_ids if d.tasks[tid][0] is not None]
    if olds or not new_ids or (not many and len(new_ids) != 1):
        c.bad(ACTION_RULE, f"an {c.action} adds {'new tasks' if many else 'one new task'} and changes no other")
        return
    first = before.max_id() + 1
    if new_ids != list(range(first, first + len(new_ids))):
        c.bad(ACTION_RULE, f"an {c.action} takes the next ids from #{first}, not "
                           f"{', '.join(f'#{i}' for i in new_ids)}", c.tpath(new_ids[0]))
    known = set(before.tasks) | set(new_ids)
    for tid in new_ids:
        t = d.tasks[tid][1]
        assert t is not None
        if t.status != PENDING or t.owner or t.lease_expires_at or t.claimed_at:
            c.bad(ACTION_RULE, f"new task #{tid} must be pending, unowned and unleased", c.tpath(tid))
        missing = [b for b in t.blockedBy if b not in known or b == tid]
        if missing:
            c.bad(ACTION_RULE, f"task #{tid} is blocked by unknown task(s) {', '.join(f'#{b}' for b in missing)}",
                  c.tpath(tid))
        if t.run is not None:
            c.runner(tid)


def _roster_self(c: Check, d: Diff, *, takeover: tuple[str, int] | None = None) -> None:
    """Besides its own change, an action may update the actor's own roster entry (and, for a
    takeover, clear the previous owner's ``task``); nothing else on the roster."""
    if d.team_renamed:
        c.bad(ROSTER, f"a {c.action} may not rename the team", CONFIG_PATH)
    for name, (old, new) in d.roster.items():
        if name == c.actor and new is not None:
            continue
        if takeover and name == takeover[0] and old is not None and new is not None and old.task == takeover[1] \
                and new == old.evolve(task=None, updated_at=new.updated_at):
            continue
        c.bad(ROSTER, f"a {c.action} by {c.actor} may not change {name}'s roster entry", CONFIG_PATH)


def _task_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    pair = _one_task(c, d, trailers)
    if pair is None:
        return
    old, new = pair
    path = c.tpath(old.id)
    a, actor = c.action, c.actor
    takeover = None
    if a == "claim":
        why = claim_refusal(before, old, actor, c.now, c.skew)
        if why:
            c.bad(CLAIM, f"claim of a task that is not ready: {why}", path)
        elif new.status != IN_PROGRESS or new.owner != actor:
            c.bad(CLAIM, f"a claim by {actor} makes task #{old.id} in_progress and owned by {actor}", path)
        _only_fields(c, old, new, _CLAIM_FIELDS)
        if old.status == IN_PROGRESS and old.owner and old.owner != actor:
            takeover = (old.owner, old.id)
    elif a == "release":
        why = release_refusal(old, actor)
        if why:
            c.bad(LEAD_ONLY if old.status == IN_PROGRESS else OWNER, why, path)
        elif new.status != PENDING or new.owner or new.lease_expires_at or new.claimed_at:
            c.bad(ACTION_RULE, f"a release makes task #{old.id} pending, unowned and unleased", path)
        _only_fields(c, old, new, _CLAIM_FIELDS)
    elif a == "renew":
        why = owner_refusal(old, actor, "renew")
        if why:
            c.bad(OWNER, why, path)
        _only_fields(c, old, new, _RENEW_FIELDS)
    elif a in ("done", "fail"):
        why = owner_refusal(old, actor, "finish" if a == "done" else "fail")
        if why:
            c.bad(OWNER, why, path)
        elif new.status != (COMPLETED if a == "done" else FAILED) or new.lease_expires_at:
            c.bad(ACTION_RULE, f"a {a} makes task #{old.id} {COMPLETED if a == 'done' else FAILED}, unleased", path)
        _only_fields(c, old, new, _FINISH_FIELDS)
    elif a == "update":
        if not _only_fields(c, old, new, _UPDATE_FIELDS):
            return
        if new.run != old.run:
            c.runner(old.id)
        why = status_refusal(old, actor, new.status)
        if why:
            c.bad(LEAD_ONLY, why, path)
            return
        holds = (new.owner, new.claimed_at, new.lease_expires_at) != (old.owner, old.claimed_at, old.lease_expires_at)
        if new.status == PENDING and old.status != PENDING:
            ok = not (new.owner or new.claimed_at or new.lease_expires_at)
        elif new.status in (COMPLETED, FAILED) and old.status != new.status:
            ok = (new.owner, new.claimed_at) == (old.owner, old.claimed_at) and new.lease_expires_at is None
        else:
            ok = not holds
        if not ok:
            c.bad(ACTION_RULE, f"an update may not change task #{old.id}'s owner or lease (claim or release it)", path)
        missing = [b for b in new.blockedBy if b not in before.tasks or b == old.id]
        if missing:
            c.bad(ACTION_RULE, f"task #{old.id} is blocked by unknown task(s) {', '.join(f'#{b}' for b in missing)}",
                  path)
    _roster_self(c, d, takeover=takeover)


def _recipient_ok(before: Board, name: str) -> bool:
    return name == LEAD or before.team.member(name) is not None


def _messages_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    a, actor = c.action, c.actor
    if a == "drain":
        if d.added:
            c.bad(MESSAGES, "a drain only removes messages", d.added[0][0])
        inboxes = sorted({_recipient_of(p, c.version) for p, _ in d.removed})
        if len(inboxes) != 1:
            c.bad(MESSAGES, f"a drain empties one inbox, not {len(inboxes)}")
        for name in inboxes:
            why = drain_refusal(name, actor)
            if why:
                c.bad(MESSAGES, why, f"{INBOX_DIR}/{name}")
        return
    if d.removed:
        c.bad(MESSAGES, f"a {a} may not remove messages (only a drain by the recipient or the lead)", d.removed[0][0])
    if not d.added:
        c.bad(MESSAGES, f"a {a} adds a message")
        return
    if a == "send" and len(d.added) != 1:
        c.bad(MESSAGES, f"a send adds one message, not {len(d.added)}")
    for path, msg in d.added:
        if msg.from_ != actor:
            c.bad(MESSAGES, f"a message from {msg.from_} committed by {actor}", path)
        if not _recipient_ok(before, msg.to):
            c.bad(MESSAGES, f"{msg.to} is not the lead and not on the roster", path)
        if a == "broadcast" and msg.type != BROADCAST:
            c.bad(MESSAGES, f"a broadcast adds broadcast messages, not a {msg.type}", path)


_PROTOCOL = {  # action -> (request kind, message type, is an answer)
    "shutdown-request": (SHUTDOWN, SHUTDOWN_REQUEST, False),
    "shutdown-response": (SHUTDOWN, SHUTDOWN_RESPONSE, True),
    "plan-request": (PLAN, PLAN_REQUEST, False),
    "plan-response": (PLAN, PLAN_RESPONSE, True),
}


def _protocol_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    kind, mtype, answer = _PROTOCOL[c.action]
    named = trailers.get(REQUEST, [])
    if len(d.requests) != 1 or len(named) != 1:
        c.bad(REQUESTS, f"a {c.action} writes exactly one request, named by its {REQUEST} trailer")
        return
    (path, (old, new)), = d.requests.items()
    assert new is not None
    if new.request_id != named[0] or new.kind != kind:
        c.bad(REQUESTS, f"a {c.action} writes {kind} request {named[0]}, not {new.kind} {new.request_id}", path)
    if answer:
        if old is None:
            c.bad(REQUESTS, f"a {c.action} answers an existing request; {new.request_id} is new", path)
            return
        why = answer_refusal(old, c.actor)
        if why and old.status == REQ_PENDING:
            c.bad(REQUESTS, why, path)  # (an answered one is reported by the generic check)
        to = old.from_
    else:
        if old is not None:
            c.bad(REQUESTS, f"request {new.request_id} already exists", path)
        if new.from_ != c.actor:
            c.bad(REQUESTS, f"a request from {new.from_} committed by {c.actor}", path)
        elif not _recipient_ok(before, new.to):
            c.bad(REQUESTS, f"{new.to} is not the lead and not on the roster", path)
        to = new.to
    if d.removed or len(d.added) != 1:
        c.bad(MESSAGES, f"a {c.action} adds exactly one message and removes none")
        return
    (mpath, msg), = d.added
    if (msg.type, msg.from_, msg.to, msg.request_id) != (mtype, c.actor, to, new.request_id):
        c.bad(MESSAGES, f"a {c.action} sends a {mtype} from {c.actor} to {to} about {new.request_id}", mpath)
    elif answer and msg.approve != (new.status == APPROVED):
        c.bad(MESSAGES, f"the {mtype} says approve={msg.approve} but the request is {new.status}", mpath)
    if c.action == "shutdown-response":
        for name, (om, nm) in d.roster.items():
            if name != c.actor or om is None or nm is None or new.status != APPROVED \
                    or nm != om.evolve(status="shutdown", task=None, updated_at=nm.updated_at):
                c.bad(ROSTER, "an approved shutdown-response may only set the answering member shutdown", CONFIG_PATH)
    elif d.roster or d.team_renamed:
        c.bad(ROSTER, f"a {c.action} does not change the roster", CONFIG_PATH)


def _roster_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    if d.team_renamed:
        c.bad(ROSTER, "only init names the team", CONFIG_PATH)
    if not d.roster:
        c.bad(ROSTER, f"a {c.action} changes the roster")
    for name, (old, new) in d.roster.items():
        if c.action == "team-remove" and new is not None:
            c.bad(ROSTER, "a team-remove only removes members", CONFIG_PATH)
        if c.action != "team-remove" and new is None:
            c.bad(ROSTER, f"a {c.action} does not remove members", CONFIG_PATH)
        if name != c.actor and c.actor != LEAD:
            c.bad(LEAD_ONLY, f"{c.actor} may not change {name}'s roster entry (only {name} or the lead)", CONFIG_PATH)


def _init_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    if before.tip is not None:
        c.bad(HISTORY, "init makes the board's root commit; this board already exists")
    if CONFIG_PATH not in d.kinds:
        c.bad(ROSTER, f"init writes {CONFIG_PATH}")


_REVIEW_FIELDS = frozenset({"review", "updated_at"})
_REWORK_FIELDS = frozenset({"status", "owner", "claimed_at", "lease_expires_at", "review", "rework", "updated_at"})
_MERGE_FIELDS = frozenset({"status", "result", "updated_at"})
#: Trailer of a merge board commit naming the merge commit on the base (see review_ops).
MERGE_COMMIT = "Gitboard-Merge-Commit"


def _review_action(c: Check, before: Board, d: Diff, trailers: Mapping[str, list[str]]) -> None:
    """approve, reject, rework (the merge queue's) and merge: the lead's, on a completed task."""
    pair = _one_task(c, d, trailers)
    if pair is None:
        return
    old, new = pair
    path, a = c.tpath(old.id), c.action
    if c.actor != LEAD:
        c.bad(LEAD_ONLY, f"only the lead may {a} a task ({c.actor} is not the lead)", path)
    if old.status != COMPLETED:
        c.bad(ACTION_RULE, f"cannot {a} task #{old.id}: it is {old.status}, not completed", path)
    if a == "approve":
        if _only_fields(c, old, new, _REVIEW_FIELDS) and not (
                isinstance(new.review, dict) and new.review.get("verdict") == "approved"):
            c.bad(ACTION_RULE, f"an approve records review {{\"verdict\": \"approved\"}} on task #{old.id}", path)
        elif isinstance(new.review, dict) and "commit" in new.review and not is_object_id(new.review["commit"]):
            c.bad(ACTION_RULE, f"an approve names the approved commit by its full id on task #{old.id}", path)
    elif a in ("reject", "rework"):
        if not _only_fields(c, old, new, _REWORK_FIELDS):
            return
        added = new.rework[len(old.rework):]
        if (new.status != PENDING or new.owner or new.lease_expires_at or new.claimed_at or new.review is not None
                or tuple(new.rework[:len(old.rework)]) != tuple(old.rework) or len(added) != 1
                or not isinstance(added[0], dict) or (a == "reject" and added[0].get("reason") != "review")):
            c.bad(ACTION_RULE, f"a {a} makes task #{old.id} pending, unowned and unreviewed, "
                               f"appending one rework record", path)
    elif a == "merge":
        if not _only_fields(c, old, new, _MERGE_FIELDS):
            return
        merge = new.result.get("merge") if isinstance(new.result, dict) else None
        named = trailers.get(MERGE_COMMIT, [])
        if new.status != "merged" or not isinstance(merge, dict) or [merge.get("commit")] != named:
            c.bad(ACTION_RULE, f"a merge makes task #{old.id} merged with result.merge naming the "
                               f"{MERGE_COMMIT} trailer's commit", path)
    _roster_self(c, d)


Handler = Callable[[Check, Board, Diff, Mapping[str, list[str]]], None]

#: action -> (the kinds of board file it may change, its handler)
ACTIONS: dict[str, tuple[frozenset[str], Handler]] = {
    "init": (frozenset({ROSTER_FILE, FORMAT_KIND}), _init_action),
    "add": (frozenset({TASK_FILE}), lambda c, b, d, t: _check_new_tasks(c, b, d, many=False)),
    "import": (frozenset({TASK_FILE}), lambda c, b, d, t: _check_new_tasks(c, b, d, many=True)),
    **{a: (frozenset({TASK_FILE, ROSTER_FILE}), _task_action) for a in ("claim", "release", "renew", "done", "fail")},
    "update": (frozenset({TASK_FILE}), _task_action),
    **{a: (frozenset({MESSAGE_FILE}), _messages_action) for a in ("send", "broadcast", "drain")},
    "shutdown-request": (frozenset({REQUEST_FILE, MESSAGE_FILE}), _protocol_action),
    "plan-request": (frozenset({REQUEST_FILE, MESSAGE_FILE}), _protocol_action),
    "plan-response": (frozenset({REQUEST_FILE, MESSAGE_FILE}), _protocol_action),
    "shutdown-response": (frozenset({REQUEST_FILE, MESSAGE_FILE, ROSTER_FILE}), _protocol_action),
    **{a: (frozenset({ROSTER_FILE}), _roster_action) for a in ("team-add", "team-remove", "team-set")},
    **{a: (frozenset({TASK_FILE}), _review_action) for a in ("approve", "reject", "rework", "merge")},
}


