"""Replaying the board's rules over a range of its history: ``gitboard verify`` and the pre-receive hook.

:func:`check_range` walks the commits of ``old..new`` oldest first and checks
each against its parent with :func:`gitboard.board.rules.check_commit`. The
board at ``old`` is read once (:func:`gitboard.store.read.load_board`); every
later board is the previous one with the commit's changed files applied, so a
commit costs what it changed, not the board's size. The whole range takes
three git commands whatever its length (none, for a push of loose commits that starts where
the parse cache knows the board: :func:`_loose_range`):

- ``git rev-list --reverse --topo-order --parents old..new`` -- the commits;
- ``git diff-tree --stdin -r -z --no-renames --root`` -- what each changed;
- ``git cat-file --batch`` -- every commit object and every changed board file.

Commit messages and paths are read as raw bytes with exact lengths, so a
hostile message or file name cannot confuse the parse. In the hook, git's
quarantine (``GIT_OBJECT_DIRECTORY``, ``GIT_ALTERNATE_OBJECT_DIRECTORIES``) is
inherited by those commands, so the pushed objects are visible before any ref
moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Collection

from gitboard.board import date_rules, layout, rules, tree_rules
from gitboard.board.compose import apply_writes
from gitboard.board.errors import BoardError
from gitboard.board.rules import Violation
from gitboard.board.snapshot import Board
from gitboard.board.roster import Team
from gitboard.store import trees
from gitboard.store.objects import cat_blobs, read_loose, remember_writes, tree_id
from gitboard.store.read import load_board
from gitboard.store.hooks import runners_of
from gitboard.store.repo import ZERO_OID, BoardRepo

#: Default seconds a lease is honoured past its end (``gitboard.hook.skew``): clock skew
#: allowed in the holder's favour. Never the taker's: a lease live by the judge's clock
#: cannot be taken over (:func:`gitboard.board.permits.lease_expired`).
DEFAULT_SKEW = 0.0

_TRAILER = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)")


@dataclass
class Commit:
    """One commit of the range: id, parents, committer time (epoch seconds), trailers and changed paths.

    Attributes:
        changes: path -> new blob id, or None when the commit deleted the path.
    """

    id: str
    parents: list[str]
    time: int
    trailers: list[tuple[str, str]]
    changes: dict[str, str | None] = field(default_factory=dict)
    tree: str = ""


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """Return the ``Key: value`` trailers of a commit message's last paragraph (after the subject).

    Like ``git interpret-trailers --parse`` for the messages gitboard writes: a paragraph
    counts only if every non-empty line of it is a trailer. Continuation lines are not folded.
    """
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.strip("\n")) if p.strip()]
    if len(paragraphs) < 2:
        return []
    out = []
    for line in paragraphs[-1].splitlines():
        m = _TRAILER.fullmatch(line.rstrip())
        if not m:
            return []
        out.append((m.group(1), m.group(2).strip()))
    return out


def _parse_commit(oid: str, raw: bytes) -> Commit:
    head, _, body = raw.partition(b"\n\n")
    parents: list[str] = []
    when = 0
    tree = ""
    for line in head.split(b"\n"):
        if line.startswith(b"tree "):
            tree = line[5:].decode()
        elif line.startswith(b"parent "):
            parents.append(line[7:].decode())
        elif line.startswith(b"committer "):
            parts = line.rsplit(b" ", 2)
            when = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
    return Commit(oid, parents, when, parse_trailers(body.decode("utf-8", errors="replace")), tree=tree)


def _cat(repo: BoardRepo, ids: list[str]) -> dict[str, bytes]:
    """Object id -> raw content, for ``ids`` (any type): loose objects straight from their files
    (a small push arrives loose, in the quarantine directory), the rest in one ``git cat-file --batch``."""
    out: dict[str, bytes] = {}
    rest = []
    for oid in ids:
        obj = read_loose(repo, oid)
        if obj is not None:
            out[oid] = obj[1]
        else:
            rest.append(oid)
    out.update(cat_blobs(repo, rest))
    return out


#: Commits read from loose objects at most, before :func:`commits_between` asks git instead.
LOOSE_WALK_LIMIT = 256


def _loose_range(repo: BoardRepo, old: str, new: str) -> list[Commit] | None:
    """The commits of ``old..new``, oldest first, with their changes, read without git: the
    commits from their loose object files (a small push arrives loose, in the quarantine),
    the changes from the trees (:func:`gitboard.store.trees.changes`, through the parse
    cache, where the previous push left ``old``'s tree). None when git must answer: an
    object that is not loose, a merge or a root on the way, ``old``'s tree not cached,
    or more than :data:`LOOSE_WALK_LIMIT` commits."""
    cache = repo.cache
    prev_tree = cache.tree_of(old)
    if prev_tree is None:
        return None
    chain: list[Commit] = []
    oid = new
    while oid != old:
        if len(chain) >= LOOSE_WALK_LIMIT:
            return None
        obj = read_loose(repo, oid)
        if obj is None or obj[0] != b"commit":
            return None
        c = _parse_commit(oid, obj[1])
        if len(c.parents) != 1 or not c.tree:
            return None
        chain.append(c)
        oid = c.parents[0]
    chain.reverse()
    for c in chain:
        c.changes = trees.changes(repo, cache, prev_tree, c.tree)
        prev_tree = c.tree
    return chain


def commits_between(repo: BoardRepo, old: str | None, new: str) -> tuple[list[Commit], dict[str, bytes]]:
    """Return the commits of ``old..new`` (all of ``new``'s history if ``old`` is None), oldest
    first, with their changes, and the content of every changed ``*.json`` blob (id -> bytes).

    Raises:
        GitFailure: git could not read the range (an unknown commit).
    """
    if old is not None:
        chain = _loose_range(repo, old, new)
        if chain is not None:
            return chain, _cat(repo, sorted({sha for c in chain for p, sha in c.changes.items()
                                             if sha and p.endswith(".json")}))
    spec = [new] if old is None else [new, f"^{old}"]
    ids = [ln.split()[0] for ln in repo.git("rev-list", "--reverse", "--topo-order", *spec).stdout.decode().split("\n")
           if ln.strip()]
    if not ids:
        return [], {}
    commits = {oid: _parse_commit(oid, raw) for oid, raw in _cat(repo, ids).items()}
    raw = repo.git("diff-tree", "--stdin", "-r", "-z", "--no-renames", "--root",
                   input=("\n".join(ids) + "\n").encode()).stdout
    tokens = raw.split(b"\0")
    current: Commit | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok or tok == b"\n":
            i += 1
            continue
        if tok.startswith(b":") or tok.startswith(b"\n:"):
            meta = tok.lstrip(b"\n")[1:].split(b" ")
            path = tokens[i + 1].decode("utf-8", errors="surrogateescape")
            if current is not None and len(meta) >= 5:
                status, new_sha, new_mode = meta[4][:1], meta[3].decode(), meta[1].decode()
                current.changes[path] = None if status == b"D" else (new_sha if new_mode.startswith("100") else "")
            i += 2
            continue
        current = commits.get(tok.strip().decode())
        i += 1
    ordered = [commits[oid] for oid in ids if oid in commits]
    wanted = sorted({sha for c in ordered for p, sha in c.changes.items() if sha and p.endswith(".json")})
    return ordered, _cat(repo, wanted)


def _empty() -> Board:
    return Board(tip=None, tasks={}, team=Team(team_name=""))


@dataclass
class Report:
    """What :func:`check_range` found: ``commits`` checked and every :class:`Violation`."""

    commits: int = 0
    violations: list[Violation] = field(default_factory=list)
    #: the commits checked, oldest first
    checked: list[Commit] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return ``{"commits": N, "violations": [{"commit", "action", "actor", "reason"}]}`` (``verify --json``)."""
        return {"commits": self.commits, "violations": [v.to_json() for v in self.violations]}


def check_range(repo: BoardRepo, old: str | None, new: str, *, now: Callable[[Commit], datetime] | None = None,
                skew: float = DEFAULT_SKEW, board_at_old: Board | None = None,
                remember: bool = False, runners: Collection[str] | None = None) -> tuple[Report, Board]:
    """Check every commit of ``old..new`` against its parent under the board's rules.

    Args:
        repo: the repository (in the hook: the bare repository, inside git's quarantine).
        old: the board tip before the range (None: check from the root commit).
        new: the last commit of the range.
        now: the judge's clock for each commit; default its committer time (``verify``,
            which then also reports misdated commits: :func:`date_violations`). The hook
            passes the server's clock.
        skew: seconds a lease is honoured past its end (the holder's allowance; see :data:`DEFAULT_SKEW`).
        board_at_old: the board at ``old``, if the caller has read it already.
        remember: record the range's trees and files in the parse cache (the hook: the next
            push starts from this one's tip).
        runners: who besides the lead may set a task's ``run`` command (default: the
            repository's ``gitboard.hook.runners``, :func:`gitboard.store.hooks.runners_of`).

    Returns:
        (the report, the board at ``new``).

    Raises:
        GitFailure: git could not read the range.
    """
    commits, blobs = commits_between(repo, old, new)
    if runners is None:
        runners = runners_of(repo.config_records)
    report = Report(checked=commits)
    board = board_at_old if board_at_old is not None else (load_board(repo, old)[0] if old else _empty())
    malformed = tree_violations(repo, commits)
    misdated = date_violations(repo, commits) if now is None else {}
    for c in commits:
        report.commits += 1
        when = now(c) if now is not None else datetime.fromtimestamp(c.time, timezone.utc)
        found, after = check_one(repo, board, c, blobs, when, skew, runners)
        report.violations.extend(malformed.get(c.id, []))
        report.violations.extend(misdated.get(c.id, []))
        report.violations.extend(found)
        board = after
    if remember:
        _remember(repo, commits, blobs)
    return report, board


def date_violations(repo: BoardRepo, commits: list[Commit], now: datetime | None = None) -> dict[str, list[Violation]]:
    """commit id -> the :data:`date_rules.DATES` violations of its committer date
    (:func:`gitboard.board.date_rules.date_refusals`: in the future of ``now``, default this
    machine's clock, or out of order with its first parent's).

    Raises:
        GitFailure: git could not read the range's first parent.
    """
    clock = now or datetime.now(timezone.utc)
    times = {c.id: c.time for c in commits}
    first = commits[0].parents[0] if commits and commits[0].parents else None
    if first is not None and first not in times:
        out = repo.git("show", "-s", "--format=%ct", first, check=False).stdout.decode().strip()
        if out.isdigit():
            times[first] = int(out)
    found: dict[str, list[Violation]] = {}
    for c in commits:
        parent = times.get(c.parents[0]) if c.parents else None
        for why in date_rules.date_refusals(c.time, parent, clock):
            found.setdefault(c.id, []).append(Violation(c.id, dict(c.trailers).get("Gitboard-Action", ""),
                                                        rules.actor_of(c.trailers), date_rules.DATES, why))
    return found


def tree_violations(repo: BoardRepo, commits: list[Commit]) -> dict[str, list[Violation]]:
    """commit id -> the :data:`rules.LAYOUT` violations of the trees it added (each tree of the
    commit that its first parent does not have at the same path), under
    :func:`gitboard.board.tree_rules.tree_refusals`: what ``git fsck`` would flag.

    Raises:
        GitFailure: git could not read a parent commit.
    """
    trees_of = {c.id: c.tree for c in commits}
    cache = repo.cache
    pairs = []
    for c in commits:
        parent = c.parents[0] if c.parents else None
        before = None
        if parent is not None:
            before = trees_of.get(parent) or cache.tree_of(parent) or tree_id(repo, parent)
        pairs.append((before, c.tree))
    out: dict[str, list[Violation]] = {}
    for c, added in zip(commits, trees.new_trees(repo, cache, pairs)):
        for path, _tree, body in added:
            for why in tree_rules.tree_refusals(body):
                out.setdefault(c.id, []).append(Violation(
                    c.id, dict(c.trailers).get("Gitboard-Action", ""), rules.actor_of(c.trailers), rules.LAYOUT,
                    f"tree {path or '/'}: {why}", path or None))
    return out


def _remember(repo: BoardRepo, commits: list[Commit], blobs: dict[str, bytes]) -> None:
    """Record each commit's tree and the changed files, parsed, in the parse cache: facts about
    objects, true whether or not the push lands, so that the next push reads only what it changed."""
    cache = repo.cache
    for c in commits:
        if c.tree:
            cache.put_commit(c.id, c.tree)
        remember_writes(cache, {p: blobs[sha] for p, sha in c.changes.items() if sha in blobs})
    cache.save()


def _board_at(repo: BoardRepo, commit: str | None) -> Board:
    if commit is None:
        return _empty()
    try:
        return load_board(repo, commit)[0]
    except BoardError:
        return _empty()


def check_one(repo: BoardRepo, before: Board, c: Commit, blobs: dict[str, bytes], now: datetime,
              skew: float, runners: Collection[str] = ()) -> tuple[list[Violation], Board]:
    """Check commit ``c`` given the board at its first parent (``before``); return (violations, board at ``c``)."""
    found: list[Violation] = []
    actor = rules.actor_of(c.trailers)
    action = dict(c.trailers).get("Gitboard-Action", "")
    if len(c.parents) > 1:
        found.append(Violation(c.id, action, actor, rules.HISTORY,
                               f"a merge commit ({len(c.parents)} parents); the board's history is linear"))
        return found, replace(_board_at(repo, c.id), tip=c.id)
    parent = c.parents[0] if c.parents else None
    if before.tip != parent:
        before = _board_at(repo, parent)
    writes: dict[str, bytes | None] = {}
    missing = []
    for path, sha in c.changes.items():
        if not path.endswith(".json"):
            continue
        if sha is None:
            writes[path] = None
        elif sha in blobs:
            writes[path] = blobs[sha]
        else:
            missing.append(path)  # a submodule or symlink under a .json name: outside any board format
    if parent is None or layout.FORMAT_PATH in c.changes:
        try:
            after = load_board(repo, c.id)[0]  # a root or a format change: read the whole tree
        except BoardError as e:
            after = replace(apply_writes(before, writes), tip=c.id)
            found.append(Violation(c.id, action, actor, rules.FORMAT, e.message))
    else:
        after = replace(apply_writes(before, writes), tip=c.id)
    for path in missing:
        found.append(Violation(c.id, action, actor, rules.LAYOUT, f"{path} is not a regular file", path))
    found += rules.check_commit(before, after, c.trailers, now, paths=sorted(c.changes), commit=c.id, skew=skew,
                                data=writes, runners=runners)
    return found, after


def zero_to_none(oid: str) -> str | None:
    """``None`` for git's all-zero object id (no such ref), else ``oid``."""
    return None if oid == ZERO_OID or set(oid) == {"0"} else oid
