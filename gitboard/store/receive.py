"""The pre-receive hook's work: judge a push before any ref moves (``gitboard hook-impl pre-receive``).

git runs the hook with one ``<old> <new> <ref>`` line per pushed ref on stdin,
inside its quarantine: the pushed objects are readable (``GIT_OBJECT_DIRECTORY``
and ``GIT_ALTERNATE_OBJECT_DIRECTORIES``, inherited by every git command run
here) but no ref has moved. A non-zero exit rejects the whole push. Each
problem is one line on stderr, ``gitboard: refused <commit>: <reason>``, which
the pusher sees as ``remote: gitboard: refused ...``.

Checked, per ref:

- **the board branch** (``gitboard.branch``, default ``gitboard``): no deletion, no
  rewind (non-fast-forward), and every new commit legal under
  :mod:`gitboard.board.rules` against its parent, leases judged by this server's clock
  honouring a lease ``gitboard.hook.skew`` seconds past its end (default 0: the holder's
  allowance, never the taker's; a live lease cannot be taken over);
- **identity**, where the server knows who pushed: every new board commit's
  ``Gitboard-Actor`` must be a name the pusher may act as (:func:`allowed_actors`);
- **task/<id>** branches: the pusher may act as the task's owner (on the board as this
  push leaves it), or is a lead;
- **the base branch** (``gitboard.hook.base``, default the repository's HEAD branch): only
  fast-forwards; with ``gitboard.hook.protectBase``, only merge-queue commits (merge
  commits with a ``Gitboard-Task`` trailer and actor ``lead``, recorded on the board as
  that task's merge, merging the commit its approval names) pushed by a lead;
- **merge records**, where the repository has a base branch: each ``merge`` board commit's
  merge commit exists, is on the base (pushed with it, or already there), and merges the
  approved commit of an approved task (:mod:`gitboard.board.merge_rules`; an approval is
  not required when the server's ``gitboard.review`` is ``none``).

Other refs are not gitboard's business and pass. A deletion of the board or base branch is
refused before anything else, whatever old value it declares. The declared ``<old>`` of an
update of either is the pusher's to choose, so it is trusted only when it is the ref's
current value, or an ancestor of it (the ref moved on: git rejects the update as stale, a
lost race the client retries); any other update is judged as if its ``<old>`` were the
ref's current value (:func:`declared_old`).

Configuration (``git config`` in the server repository; ``gitboard hook install`` writes it):

- ``gitboard.hook.leads`` (multi-valued): pushers who may act as ``lead``;
- ``gitboard.hook.runners`` (multi-valued): actors who, besides ``lead``, may set or change a
  task's ``run`` command (the command every shell teammate executes);
- ``gitboard.hook.actors.<pusher>`` (multi-valued; names separated by spaces or commas,
  ``*`` for any): the names that pusher may act as; default: the pusher's own name;
- ``gitboard.hook.skew``, ``gitboard.hook.base``, ``gitboard.hook.protectBase``.

The pusher is the first set of ``REMOTE_USER`` (git http-backend), ``GL_USERNAME``
(GitLab), ``GL_USER`` (gitolite), ``GITEA_PUSHER_NAME`` (Gitea, Forgejo) and
``GITBOARD_PUSHER`` (an ssh forced command). With none set, identity is not enforced.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from gitboard.board.change import ACTION, ACTOR, TASK
from gitboard.board.merge_rules import approval_mismatch, merge_refusals
from gitboard.board.clock import utcnow
from gitboard.board.errors import BoardError
from gitboard.board.names import LEAD
from gitboard.board.merge_order import review_required
from gitboard.board.review_ops import MERGE_COMMIT, is_object_id
from gitboard.board.snapshot import Board
from gitboard.store.read import load_board
from gitboard.store.repo import ZERO_OID, BoardRepo
from gitboard.store.verify import DEFAULT_SKEW, check_range, commits_between, zero_to_none

#: Environment variables naming the pusher, in the order they are read.
PUSHER_VARS = ("REMOTE_USER", "GL_USERNAME", "GL_USER", "GITEA_PUSHER_NAME", "GITBOARD_PUSHER")

_TASK_BRANCH = re.compile(r"refs/heads/task/([1-9][0-9]*)")


@dataclass
class HookConfig:
    """The hook's settings, from ``git config gitboard.hook.*`` (see the module docstring)."""

    leads: set[str] = field(default_factory=set)
    runners: set[str] = field(default_factory=set)
    actors: dict[str, list[str]] = field(default_factory=dict)
    skew: float = DEFAULT_SKEW
    base: str | None = None
    protect_base: bool = False
    require_review: bool = True

    @classmethod
    def read(cls, repo: BoardRepo) -> "HookConfig":
        """Read the settings of ``repo`` (from :attr:`BoardRepo.config_records`, read when the
        repository was opened: no git command).

        Raises:
            BoardError: a ``gitboard.hook.skew`` that is not a number of seconds.
        """
        cfg = cls()
        for key, value in repo.config_records:
            key = key.lower()
            if key == "gitboard.review":
                cfg.require_review = review_required(value)
            if not key.startswith("gitboard.hook."):
                continue
            if key == "gitboard.hook.leads":
                cfg.leads.update(_names(value))
            elif key == "gitboard.hook.runners":
                cfg.runners.update(_names(value))
            elif key.startswith("gitboard.hook.actors."):
                cfg.actors.setdefault(key[len("gitboard.hook.actors."):], []).extend(_names(value))
            elif key == "gitboard.hook.skew":
                try:
                    cfg.skew = float(value)
                except ValueError:
                    raise BoardError(f"gitboard.hook.skew must be a number of seconds, not {value!r}") from None
            elif key == "gitboard.hook.base":
                cfg.base = value.strip() or None
            elif key == "gitboard.hook.protectbase":
                cfg.protect_base = value.strip().lower() in ("true", "yes", "on", "1")
        return cfg


def _names(value: str) -> list[str]:
    return [n for n in re.split(r"[\s,]+", value.strip()) if n]


def pusher_from(env: Mapping[str, str]) -> str | None:
    """Return who pushed, from the first set variable of :data:`PUSHER_VARS`, or None."""
    for var in PUSHER_VARS:
        value = env.get(var, "").strip()
        if value:
            return value
    return None


def allowed_actors(cfg: HookConfig, pusher: str) -> tuple[set[str], bool]:
    """Return (the names ``pusher`` may act as, whether any name but ``lead`` is allowed).

    ``gitboard.hook.actors.<pusher>`` lists them (``*``: any name), else the pusher's own
    name. ``lead`` is allowed only to a pusher named in ``gitboard.hook.leads``, whatever
    the pusher is called. (git lower-cases config keys, so ``actors.<pusher>`` matches the
    pusher's name case-insensitively.)
    """
    names = set(cfg.actors.get(pusher.lower(), [pusher]))
    anyone = "*" in names
    names.discard("*")
    names.discard(LEAD)
    if pusher in cfg.leads:
        names.add(LEAD)
    return names, anyone


def parse_updates(text: str) -> list[tuple[str, str, str]]:
    """Parse git's pre-receive input: one ``<old> <new> <ref>`` line per ref."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def _base_ref(repo: BoardRepo, cfg: HookConfig) -> str | None:
    if cfg.base:
        return cfg.base if cfg.base.startswith("refs/") else f"refs/heads/{cfg.base}"
    head = repo.git("symbolic-ref", "-q", "HEAD", check=False).stdout.decode().strip()
    return head if head and head != repo.ref else None


def check_push(repo: BoardRepo, updates: Sequence[tuple[str, str, str]], env: Mapping[str, str],
               cfg: HookConfig | None = None) -> list[str]:
    """Judge one push; return the refusal lines (``refused <commit>: <reason>``), empty to accept.

    Args:
        repo: the server repository (the hook's working directory).
        updates: git's ``(old, new, ref)`` triples.
        env: the hook's environment (who pushed).
        cfg: the settings (default: read from ``repo``).

    Raises:
        GitFailure: git could not read the pushed objects.
    """
    cfg = cfg or HookConfig.read(repo)
    pusher = pusher_from(env)
    names, anyone = allowed_actors(cfg, pusher) if pusher else (set(), True)
    is_lead = pusher is not None and pusher in cfg.leads
    refused: list[str] = []
    now = utcnow()
    board: Board | None = None  # the board as this push leaves it

    def may_act(actor: str) -> bool:
        return pusher is None or actor in names or (anyone and actor != LEAD and actor != "")

    base_ref = _base_ref(repo, cfg) if any(ref != repo.ref for _, _, ref in updates) else None
    # the board first: the other refs are judged against the board as this push leaves it
    for old, new, ref in sorted(updates, key=lambda u: u[2] != repo.ref):
        old_c, new_c = zero_to_none(old), zero_to_none(new)
        if ref == repo.ref or ref == base_ref:
            if new_c is None:  # before any staleness test: git deletes a ref whose declared old value
                what = "board" if ref == repo.ref else "base"  # names no object without comparing it
                refused.append(f"refused {new}: deletion of the {what} branch {ref}")
                continue
            judged = declared_old(repo, ref, old_c)
            if judged is STALE:
                continue
            old_c = judged
            old = old_c or ZERO_OID
        if ref == repo.ref:
            report, board = check_range(repo, old_c, new_c, now=lambda c: now, skew=cfg.skew, remember=True,
                                        runners=cfg.runners)
            if old_c is not None and not _fast_forward(report.checked, old_c, new_c):
                refused.append(f"refused {new}: a rewind of the board branch {ref} (not a fast-forward of {old})")
                continue
            for v in report.violations:
                refused.append(f"refused {v.commit}: {v.action or 'commit'} by {v.actor or '?'}: {v.message}")
            if pusher is not None:
                for c in report.checked:
                    actor = dict(c.trailers).get(ACTOR, "")
                    if actor and not may_act(actor):
                        refused.append(f"refused {c.id}: {pusher} may not act as {actor}"
                                       + (" (only a lead may act as lead)" if actor == LEAD else ""))
            merges = [c for c in report.checked if dict(c.trailers).get(ACTION) == "merge"]
            if merges and board is not None and not report.violations:
                if base_ref is None:
                    base_ref = _base_ref(repo, cfg)
                refused += _check_merges(repo, merges, board, base_ref, updates, cfg)
        elif base_ref is not None and ref == base_ref:
            if old_c is not None and not repo.is_ancestor(old_c, new_c):
                refused.append(f"refused {new}: a rewind of the base branch {ref} (not a fast-forward of {old})")
            elif cfg.protect_base:
                if board is None:
                    board = _current_board(repo)
                refused += _check_protected_base(repo, old_c, new_c, pusher, is_lead, board)
        else:
            m = _TASK_BRANCH.fullmatch(ref)
            if m and pusher is not None and not is_lead:
                if board is None:
                    board = _current_board(repo)
                task = board.tasks.get(int(m.group(1))) if board is not None else None
                if task is None:
                    refused.append(f"refused {new}: {ref}: there is no task #{m.group(1)} on the board")
                elif not task.owner or not may_act(task.owner):
                    who = f"owned by {task.owner}" if task.owner else "not claimed"
                    refused.append(f"refused {new}: {pusher} may not push {ref}: task #{task.id} is {who}")
    return refused


#: What :func:`declared_old` returns for an update git will refuse as stale.
STALE = "stale"


def declared_old(repo: BoardRepo, ref: str, old: str | None) -> str | None:
    """The old value to judge an update of ``ref`` from, given the ``old`` its pusher declared.

    The pusher chooses ``<old>``, so it is trusted only where that cannot help a forgery:

    - ``old`` is the ref's current value (None: no such ref): judged from it;
    - ``old`` is a proper ancestor of the current value: :data:`STALE`, skipped. The ref moved
      on since the pusher read it (a lost race the client retries); git compares the ref with
      ``old`` before it moves it, and the ref never comes back to ``old`` (rewinds and deletions
      of the board and base are refused);
    - anything else (an object not on the ref's history, a value the ref does not hold yet
      because another push lands meanwhile, all zeros for an existing ref): judged as if ``old``
      were the current value, so every commit the ref could end up with is judged.

    Raises:
        GitFailure: git could not be run.
    """
    current = repo.read_ref(ref)
    if old == current:
        return old
    if old is not None and current is not None and repo.is_ancestor(old, current):
        return STALE
    return current


def _fast_forward(commits: Sequence, old: str, new: str) -> bool:
    """True if ``new`` descends from ``old``, judged from the commits of ``old..new`` (oldest first):
    the range is empty only when ``new == old``, and otherwise its first commit (in a history
    without merges) has ``old`` as its parent. A merge in the range is refused anyway; then ask git."""
    if not commits:
        return new == old
    if any(len(c.parents) > 1 for c in commits):
        return True  # reported as a merge commit by the rules
    return commits[0].parents == [old]


def _check_merges(repo: BoardRepo, merges: Sequence, board: Board, base_ref: str | None,
                  updates: Sequence[tuple[str, str, str]], cfg: HookConfig) -> list[str]:
    """The board's ``merge`` commits of this push against the base branch
    (:func:`gitboard.board.merge_rules.merge_refusals`): each named merge commit exists, is
    on the base as this push leaves it, merges the approved commit of an approved task.
    Nothing is checked where the repository has no base branch."""
    tips = [n for _, n, ref in updates if ref == base_ref and zero_to_none(n)]
    current = repo.read_ref(base_ref) if base_ref else None
    if current:
        tips.append(current)
    if not tips:
        return []
    out = []
    for c in merges:
        tr = dict(c.trailers)
        task = board.tasks.get(int(tr[TASK])) if tr.get(TASK, "").isdigit() else None
        commit = tr.get(MERGE_COMMIT, "")
        if task is None:
            continue  # the rules have reported it
        listed = repo.git("rev-list", "--parents", "-n", "1", f"{commit}^{{commit}}", "--", check=False) \
            if is_object_id(commit) else None
        parents = listed.stdout.decode().split()[1:] if listed is not None and listed.status == 0 else None
        on_base = parents is not None and any(repo.is_ancestor(commit, tip) for tip in tips)
        for why in merge_refusals(task, commit, parents, on_base, cfg.require_review):
            out.append(f"refused {c.id}: merge by {tr.get(ACTOR) or '?'}: {why}")
    return out


def _current_board(repo: BoardRepo) -> Board | None:
    tip = repo.tip()
    if tip is None:
        return None
    try:
        return load_board(repo, tip)[0]
    except BoardError:
        return None


def _check_protected_base(repo: BoardRepo, old: str | None, new: str, pusher: str | None,
                          is_lead: bool, board: Board | None) -> list[str]:
    """With ``gitboard.hook.protectBase``: the base takes only the merge queue's commits, from a lead.

    Each new first-parent commit must be a merge with ``Gitboard-Task`` and ``Gitboard-Actor:
    lead`` trailers that ``board`` (the board as this push leaves it) records as that task's
    ``result.merge.commit``, and whose second parent is the commit the task's approval names
    (when it names one): what was approved is what lands, whoever pushes it."""
    if pusher is not None and not is_lead:
        return [f"refused {new}: {pusher} may not push the protected base branch (only a lead's merge queue)"]
    if old is None:
        return []
    spec = [new, f"^{old}"]
    ids = repo.git("rev-list", "--first-parent", "--reverse", *spec).stdout.decode().split()
    commits = {c.id: c for c in commits_between(repo, old, new)[0]}
    out = []
    for oid in ids:
        c = commits.get(oid)
        if c is None:
            continue
        tr = dict(c.trailers)
        if len(c.parents) < 2 or TASK not in tr or tr.get(ACTOR) != LEAD:
            out.append(f"refused {oid}: the protected base branch takes only merge-queue commits "
                       f"(a merge with {TASK} and {ACTOR}: lead trailers)")
            continue
        task = board.tasks.get(int(tr[TASK])) if board is not None and tr[TASK].isdigit() else None
        merge = task.result.get("merge") if task is not None and isinstance(task.result, dict) else None
        if not isinstance(merge, dict) or merge.get("commit") != oid:
            out.append(f"refused {oid}: the board does not record this merge as task #{tr[TASK]}'s "
                       f"(push the board's merge commit with it, as 'gitboard merge' does)")
            continue
        why = approval_mismatch(task, c.parents[1])
        if why:
            out.append(f"refused {oid}: {why}")
    return out


def run_legacy(hooks_dir: str, name: str, stdin: bytes, env: Mapping[str, str]) -> int:
    """Run ``<hooks_dir>/<name>.legacy`` (a hook that was there before gitboard's) with ``stdin``;
    return its exit status (0 when there is none)."""
    import subprocess

    legacy = os.path.join(hooks_dir, f"{name}.legacy")
    if not os.access(legacy, os.X_OK):
        return 0
    return subprocess.run([legacy], input=stdin, env=dict(env)).returncode
