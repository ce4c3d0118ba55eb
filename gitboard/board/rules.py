"""The board's rules as a pure check of one commit: (board before, board after, trailers) -> violations.

The pre-receive hook (:mod:`gitboard.store.hooks`) and ``gitboard verify``
(:mod:`gitboard.store.verify`) receive *commits*, not operation calls, so the
rules are written as a check of what a commit changed. The operations of
:mod:`gitboard.board.task_ops`, :mod:`~gitboard.board.inbox_ops` and
:mod:`~gitboard.board.protocol_ops` call the same predicates
(:func:`claim_refusal`, :func:`owner_refusal`, :func:`release_refusal`,
:func:`status_refusal`, :func:`drain_refusal`, :func:`answer_refusal`), so a
client and the server cannot disagree about what is legal.

A commit is legal when:

- it carries exactly one ``Gitboard-Action`` and one ``Gitboard-Actor`` trailer,
  the action is known and the actor is a valid name;
- every changed path is a board file (:func:`classify`), and every changed
  file parses and validates (task, roster, message, request), in exactly the bytes
  gitboard writes and within the size limits (:mod:`gitboard.board.canonical`, when the
  caller passes the bytes);
- nothing is deleted but messages, a message is never rewritten, and a request
  only goes from pending to approved or rejected;
- the change is one its action may make, by that actor (see :data:`ACTIONS`):
  a claim takes a ready task (blockers done; unowned, or its lease ended ``skew``
  seconds or more before ``now``: an allowance for the holder's clock, never the taker's); only the owner renews, finishes or
  releases; only the lead force-releases, overrides a status, and approves,
  rejects, sends back for rework or merges a completed task; messages are
  added by send, broadcast and the protocol steps, and removed by a drain done
  by their recipient or the lead; a request is answered by the member it is
  addressed to; only the lead, or an actor named in ``git config gitboard.hook.runners``,
  sets or changes a task's ``run`` command. Besides its own change, a claim, renew, finish, release or
  protocol answer may update the actor's own roster entry (the teammate
  runtime commits "claim + working" as one commit); a claim that takes over an
  expired lease may also clear the previous owner's roster ``task``.

A ``migrate`` commit (:mod:`gitboard.store.migrate`) moves every file of an older board
format to its current path, content unchanged, and adds the format file; nothing else.

The role of a task is routing, not permission (a claimer names its role), so
it is an operation check only. Each :class:`Violation` says which commit,
action, actor, rule and path, and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Iterable, Mapping, Sequence

from gitboard.board.action_rules import (
    ACTION_RULE, ACTIONS, FORMAT, HISTORY, LAYOUT, MESSAGE_FILE, MESSAGES, REQUEST_FILE, REQUESTS, ROSTER_FILE,
    TASK_FILE, TRAILERS, Check, Diff, Violation,
)
from gitboard.board.change import ACTION, ACTOR
from gitboard.board.errors import BoardError
from gitboard.board import canonical, layout
from gitboard.board.message import MESSAGE_TYPES, PROTOCOL_TYPES, RESPONSE_TYPES, Message
from gitboard.board.names import NAME_RE
from gitboard.board.permits import (  # re-exported: the rules' predicates
    DONE_STATUSES, answer_refusal, claim_refusal, drain_refusal, lease_expired, open_blockers, owner_refusal,
    release_refusal, status_refusal,
)
from gitboard.board.request import APPROVED, PENDING as REQ_PENDING, REJECTED, Request
from gitboard.board.snapshot import Board
from gitboard.board.roster import CONFIG_PATH, Team

__all__ = ["MIGRATE", "HISTORY", "FORMAT", "LAYOUT", "Violation", "check_commit", "check_change", "classify", "changed_paths", "trailer_map", "actor_of",
           "ACTIONS", "claim_refusal", "owner_refusal", "release_refusal", "status_refusal", "drain_refusal",
           "answer_refusal", "lease_expired", "open_blockers", "DONE_STATUSES"]

# -- the layout: gitboard.board.layout ------------------------------------------------

FORMAT_KIND = layout.FORMAT_FILE


def classify(path: str, version: int = layout.FORMAT) -> str | None:
    """Return which kind of board file ``path`` is in a board of format ``version`` (task,
    roster, message, request, format), or None for a path outside the layout
    (:func:`gitboard.board.layout.classify`)."""
    found = layout.classify(path, version)
    return found.kind if found is not None else None


def changed_paths(before: Board, after: Board) -> list[str]:
    """Return the board files that differ between ``before`` and ``after`` (parsed content, sorted).

    Only for boards built by :func:`~gitboard.board.snapshot.build` or
    :func:`~gitboard.board.compose.apply_writes`; files that are not JSON are not in a
    Board, so the store passes the commit's changed paths instead.
    """
    paths: set[str] = set()
    for tid in set(before.tasks) | set(after.tasks):
        if before.tasks.get(tid) != after.tasks.get(tid):
            paths.add(after.path_of_task(tid))
    for mapping in ("docs", "corrupt"):
        b, a = getattr(before, mapping), getattr(after, mapping)
        paths.update(p for p in set(b) | set(a) if b.get(p) != a.get(p))
    if before.team != after.team:
        paths.add(CONFIG_PATH)
    if before.format != after.format:
        paths.add(layout.FORMAT_PATH)
    return sorted(paths)


def _validate_message(path: str, value: Any, version: int) -> Message:
    msg = Message.from_json(value)
    if msg.type not in MESSAGE_TYPES:
        raise BoardError(f"unknown message type {msg.type!r:.40}")
    for who in (msg.from_, msg.to):
        if not NAME_RE.fullmatch(who):
            raise BoardError(f"invalid name {who!r:.40}")
    if msg.type in PROTOCOL_TYPES and not msg.request_id:
        raise BoardError(f"a {msg.type} without a request_id")
    if msg.type in RESPONSE_TYPES and msg.approve is None:
        raise BoardError(f"a {msg.type} without approve")
    want = layout.message_path(msg.to, layout.message_file_name(int(round(msg.timestamp * 1_000_000)), msg.id),
                               version)
    if path != want:
        raise BoardError(f"its path does not match its recipient, time and id ({want})")
    return msg


def _validate_request(path: str, value: Any, version: int) -> Request:
    req = Request.from_json(value)
    if path != layout.request_path(req.request_id, version):
        raise BoardError(f"request_id {req.request_id!r:.40} does not match the file name")
    for who in (req.from_, req.to):
        if not NAME_RE.fullmatch(who):
            raise BoardError(f"invalid name {who!r:.40}")
    return req


def _validate_team(team: Team) -> None:
    seen: set[str] = set()
    for m in team.members:
        if not NAME_RE.fullmatch(m.name):
            raise BoardError(f"invalid member name {m.name!r:.40}")
        if m.name in seen:
            raise BoardError(f"member {m.name} is listed twice")
        seen.add(m.name)


def _request_at(board: Board, path: str) -> Request | None:
    value = board.docs.get(path)
    if value is None:
        return None
    try:
        return Request.from_json(value)
    except BoardError:
        return None


def _unchanged(before: Board, after: Board, path: str, kind: str) -> bool:
    if path in before.corrupt:
        return False
    if kind == FORMAT_KIND:
        return before.format == after.format and before.tip is not None
    if kind == TASK_FILE:
        tid = layout.task_id_of(path, after.format)
        old, new = before.tasks.get(tid), after.tasks.get(tid)
        # Task.extra does not take part in ==: unknown keys compare here, in their order
        return old == new and (old is None or list(old.extra.items()) == list(new.extra.items()))
    if kind == ROSTER_FILE:
        return before.team == after.team
    return path in before.docs and path in after.docs and before.docs[path] == after.docs[path]


def _diff(c: Check, before: Board, after: Board, paths: Iterable[str]) -> Diff:
    """Classify and validate every changed path; record what changed, by kind."""
    d = Diff()
    for path in paths:
        kind = classify(path, after.format)
        if kind is None and path not in after.docs and path not in after.corrupt:
            kind = classify(path, before.format)  # a file removed from an older layout
        if kind is None:
            c.bad(LAYOUT, f"{path} is outside the board's layout", path)
            continue
        if path in after.corrupt:
            c.bad(FORMAT, f"{path} does not parse or validate: {after.corrupt[path]}", path)
            continue
        if _unchanged(before, after, path, kind):
            continue  # written byte for byte (or to an equal value) again
        d.kinds[path] = kind
        if kind == FORMAT_KIND:
            if after.format != layout.FORMAT:
                c.bad(FORMAT, f"{path} must record format {layout.FORMAT}", path)
        elif kind == TASK_FILE:
            tid = layout.task_id_of(path, after.format) or layout.task_id_of(path, before.format)
            assert tid is not None
            old, new = before.tasks.get(tid), after.tasks.get(tid)
            if new is None and old is not None:
                c.bad(ACTION_RULE, f"task #{tid} was deleted ({path}); tasks are never deleted", path)
            elif old != new:
                d.tasks[tid] = (old, new)
        elif kind == ROSTER_FILE:
            if not after.team.team_name:
                c.bad(FORMAT if before.tip is None else ACTION_RULE,
                      f"{path} was deleted or names no team; the roster is kept", path)
                continue
            try:
                _validate_team(after.team)
            except BoardError as e:
                c.bad(FORMAT, f"{path} does not validate: {e.message}", path)
            d.team_renamed = before.team.team_name != after.team.team_name
            olds = {m.name: m for m in before.team.members}
            news = {m.name: m for m in after.team.members}
            for name in sorted(set(olds) | set(news)):
                if olds.get(name) != news.get(name):
                    d.roster[name] = (olds.get(name), news.get(name))
        elif kind == MESSAGE_FILE:
            old_v, new_v = before.docs.get(path), after.docs.get(path)
            if new_v is None:
                d.removed.append((path, old_v))
                continue
            try:
                msg = _validate_message(path, new_v, after.format)
            except BoardError as e:
                c.bad(FORMAT, f"{path} is not a valid message: {e.message}", path)
                continue
            if old_v is not None or path in before.corrupt:
                c.bad(MESSAGES, f"{path} was rewritten; a message is only ever added or drained", path)
                continue
            d.added.append((path, msg))
        elif kind == REQUEST_FILE:
            old_r = _request_at(before, path)
            if path not in after.docs:
                c.bad(REQUESTS, f"request {path} was deleted; requests are kept", path)
                continue
            try:
                new_r = _validate_request(path, after.docs[path], after.format)
            except BoardError as e:
                c.bad(FORMAT, f"{path} is not a valid request: {e.message}", path)
                continue
            d.requests[path] = (old_r, new_r)
    return d


# -- the generic rules every commit obeys --------------------------------------------------

_REQUEST_ANSWER_KEYS = ("status", "updated_at", "reason", "feedback")


def _check_requests(c: Check, d: Diff) -> None:
    for path, (old, new) in d.requests.items():
        assert new is not None
        if old is None:
            if new.status != REQ_PENDING:
                c.bad(REQUESTS, f"request {new.request_id} was created {new.status}; a new request is pending", path)
            continue
        if old.status != REQ_PENDING:
            c.bad(REQUESTS, f"request {old.request_id} is already {old.status}; only a pending request changes", path)
            continue
        if new.status not in (APPROVED, REJECTED):
            c.bad(REQUESTS, f"request {old.request_id} may only go from pending to approved or rejected", path)
        same = old.to_json(), new.to_json()
        moved = [k for k in set(same[0]) | set(same[1]) if same[0].get(k) != same[1].get(k)
                 and k not in _REQUEST_ANSWER_KEYS]
        if moved:
            c.bad(REQUESTS, f"request {old.request_id}: an answer may not change {', '.join(sorted(moved))}", path)
        elif old.to != c.actor:
            c.bad(REQUESTS, f"request {old.request_id} is addressed to {old.to}, not {c.actor}", path)


#: The action of a commit that moves a board to the current layout (see :mod:`gitboard.store.migrate`).
MIGRATE = "migrate"


def _check_migration(c: Check, before: Board, after: Board, paths: list[str]) -> None:
    """A migration moves every board file of an older format to its current path, content
    unchanged, and adds the format file; nothing else."""
    if before.tip is None or before.format >= layout.FORMAT or after.format != layout.FORMAT:
        c.bad(ACTION_RULE, f"a migration takes a format-{before.format} board to format {layout.FORMAT}")
        return
    moved = {layout.migrate_path(p) for p in (*before.docs, *before.corrupt)}
    if (after.tasks != before.tasks or after.team != before.team
            or {layout.migrate_path(p): v for p, v in before.docs.items()} != dict(after.docs)
            or {layout.migrate_path(p): v for p, v in before.corrupt.items()} != dict(after.corrupt)):
        c.bad(ACTION_RULE, "a migration moves every board file with its content unchanged")
    for path in paths:
        old_kind = classify(path, before.format)
        if path == layout.FORMAT_PATH or path in moved or (old_kind is not None and layout.migrate_path(path) != path):
            continue
        if old_kind is None and classify(path, layout.FORMAT) in (TASK_FILE,):
            continue  # a task file's new home (tasks are not in docs)
        c.bad(LAYOUT, f"a migration may not change {path}", path)


def trailer_map(trailers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Return key -> every value, in order, from a mapping or (key, value) pairs."""
    pairs = trailers.items() if isinstance(trailers, Mapping) else trailers
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def actor_of(trailers: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Return the ``Gitboard-Actor`` trailer's value ("" if none, or if there are several)."""
    values = trailer_map(trailers).get(ACTOR, [])
    return values[0] if len(values) == 1 else ""


def check_commit(before: Board, after: Board, trailers: Mapping[str, str] | Iterable[tuple[str, str]],
                 now: datetime, *, paths: Iterable[str] | None = None, commit: str = "",
                 skew: float = 0.0, data: Mapping[str, bytes | None] | None = None,
                 runners: Collection[str] | None = None) -> list[Violation]:
    """Check one board commit against the rules (see the module docstring); return every violation.

    Args:
        before: the board at the commit's parent (an empty board, tip None, for a root commit).
        after: the board at the commit.
        trailers: the commit's trailers, a mapping or (key, value) pairs (pairs show duplicates).
        now: the judge's clock for lease expiry: the server's at push time, the commit's
            committer time when ``verify`` replays history.
        paths: every path the commit changed (from ``git diff-tree``); None: the board files
            that differ between ``before`` and ``after``.
        commit: the commit id, copied into each violation.
        skew: seconds a lease is honoured past its end (:func:`permits.lease_expired`): clock
            skew allowed in the holder's favour, never the taker's.
        data: the new bytes of the board files the commit wrote (path -> bytes, None for a
            deletion); each must be what gitboard writes (:mod:`gitboard.board.canonical`).
            None: bytes are not judged (a caller that has only parsed values).
        runners: who besides the lead may set or change a task's ``run`` command
            (``git config gitboard.hook.runners``: :func:`permits.run_refusal`); None: not judged.

    Returns:
        The violations, in the order found; empty when the commit is legal.
    """
    tmap = trailer_map(trailers)
    actions, actors = tmap.get(ACTION, []), tmap.get(ACTOR, [])
    action = actions[0] if len(actions) == 1 else ""
    actor = actors[0] if len(actors) == 1 else ""
    c = Check(commit, action, actor, now, skew, after.format, runners)
    if len(actions) != 1 or len(actors) != 1:
        c.bad(TRAILERS, f"a board commit carries exactly one {ACTION} and one {ACTOR} trailer "
                        f"(found {len(actions)} and {len(actors)})")
        return c.found
    if not NAME_RE.fullmatch(actor):
        c.bad(TRAILERS, f"invalid actor {actor!r:.40}")
        return c.found
    if action not in ACTIONS and action != MIGRATE:
        c.bad(TRAILERS, f"unknown action {action!r:.40}")
        return c.found
    paths = changed_paths(before, after) if paths is None else list(paths)
    if action == MIGRATE:
        _check_migration(c, before, after, paths)
        return c.found
    kinds, handler = ACTIONS[action]
    d = _diff(c, before, after, paths)
    if c.found:
        return c.found  # a malformed file: judging the action on it would only repeat the reason
    if data and after.format == layout.FORMAT:  # (a format-1 board's history predates these bounds)
        _check_bytes(c, before, after, data)
    for path, kind in d.kinds.items():
        if kind not in kinds:
            c.bad(ACTION_RULE, f"a {action} may not change {path}", path)
    if any(v.rule == ACTION_RULE for v in c.found):
        return c.found
    if not d.kinds and action != "init":
        return c.found  # rewrites files byte for byte (a renew within the same second): harmless
    _check_requests(c, d)
    handler(c, before, d, tmap)
    return c.found


def check_change(before: Board, writes: Mapping[str, bytes | None], trailers: Sequence[tuple[str, str]],
                 now: datetime, *, skew: float = 0.0, runners: Collection[str] | None = None) -> list[Violation]:
    """Check a change not yet committed: ``writes`` (path -> bytes, None deletes) applied to ``before``."""
    from gitboard.board.compose import apply_writes

    return check_commit(before, apply_writes(before, writes), trailers, now, paths=list(writes), skew=skew,
                        data=writes, runners=runners)


def _check_bytes(c: Check, before: Board, after: Board, data: Mapping[str, bytes | None]) -> None:
    """Each written board file's bytes are what gitboard writes (:func:`canonical.file_refusals`)."""
    version = after.format
    kinds = {}
    for path, raw in data.items():
        kind = classify(path, version)
        if raw is not None and kind is not None and path not in after.corrupt:
            kinds[path] = kind

    def value(board: Board, path: str, kind: str) -> Any:
        if kind == TASK_FILE:
            return board.tasks.get(layout.task_id_of(path, board.format))
        if kind == ROSTER_FILE:
            return board.team
        return board.docs.get(path)

    found = canonical.check_files(data, kinds, lambda p, k: value(after, p, k), lambda p, k: value(before, p, k),
                                  version)
    for path, reasons in found.items():
        for why in reasons:
            c.bad(FORMAT, f"{path}: {why}", path)
