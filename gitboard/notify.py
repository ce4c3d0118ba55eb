"""Notifications: the board's events delivered to any URL Apprise supports.

Events are read from the board's history -- the commits between the last tip this clone
delivered and the current one, by their trailers and subjects (:func:`events_of`) -- so
a board write never waits for, or fails by, a notification: nothing here is on a write's
path. The kinds (:data:`KINDS`):

- ``plan``: a teammate asks the lead to approve a plan (a ``plan-request`` commit);
- ``message``: a message to the lead (a ``send`` to ``lead``);
- ``failed``: a task failed (``fail``); ``budget`` instead when its result says the run
  stopped on its budget (a note starting with ``budget``), or a release gives that reason;
- ``rework``: a task sent back by the lead's review (``reject``) or by the merge queue
  (``rework``: a conflict or a failed check);
- ``merge``: a task merged by the queue (``merge``);
- ``stall``: a teammate's run stalled and its task was released (a release whose reason
  starts with ``stalled``);
- ``dead``: a teammate found dead: another took its task over after its lease expired (a
  claim with ``Gitboard-Takeover-From``), or its process on this host is gone while the
  roster says it works.

**Configuration** (git config of the clone): ``gitboard.notify.url``, multi-valued, each
an Apprise URL (``json://host:port/path``, ``mailto://...``, ``tgram://...``, ...);
``gitboard.notify.events``, multi-valued or comma-separated kinds to deliver (default:
every kind).

**Once per clone.** What was delivered is kept in ``<git-common-dir>/gitboard/notify.json``
(``{"tip", "delivered": [key], "pending": [{"key", "url", "kind", "title", "body",
"attempts"}]}``), replaced whole (temporary file and rename) after each delivery, under
the lock ``notify.json.lock``, so ``gitboard notify --follow`` and ``gitboard serve`` of the
same clone never deliver an event twice. The first pass in a clone starts at the current
tip (no flood of old events); a delivery that fails is retried on later passes, at most
:data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable

from gitboard.board.errors import BoardError, Invalid

#: Every kind of event, in the order the documentation lists them.
KINDS = ("plan", "message", "failed", "rework", "merge", "budget", "stall", "dead")
#: The git config keys.
URL_KEY, EVENTS_KEY = "gitboard.notify.url", "gitboard.notify.events"
#: Attempts at delivering one event to one URL before it is dropped.
MAX_ATTEMPTS = 5
#: Delivered keys kept in the state file (the oldest are forgotten; history only moves on).
KEEP_DELIVERED = 2000
#: Seconds ``follow`` waits for the board to move before it looks again (remote mode: the poll).
POLL = 2.0
#: Seconds Apprise may take per delivery.
SEND_TIMEOUT = 10.0
STATE_NAME = "notify.json"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Event:
    """One board event to deliver.

    Attributes:
        key: what identifies it in this clone (``<commit>:<kind>``, or ``dead:<name>:<time>``).
        kind: one of :data:`KINDS`.
        title: one line, e.g. ``gitboard: task #3 failed``.
        body: a few lines: what happened, by whom, and the board text it concerns.
        task: the task id it concerns, or None.
        actor: who made the commit ("" for a process found gone).
    """

    key: str
    kind: str
    title: str
    body: str
    task: int | None = None
    actor: str = ""


def config(repo: Any) -> tuple[list[str], set[str]]:
    """The notification URLs and the kinds to deliver, from the clone's git config.

    Raises:
        Invalid: ``gitboard.notify.events`` names an unknown kind.
    """
    urls = _config_all(repo, URL_KEY)
    raw = _config_all(repo, EVENTS_KEY)
    kinds = {k.strip().lower() for value in raw for k in value.split(",") if k.strip()}
    unknown = kinds - set(KINDS) - {"all"}
    if unknown:
        raise Invalid(f"git config {EVENTS_KEY}: unknown event {sorted(unknown)[0]!r} "
                      f"(one of {', '.join(KINDS)}, or all)")
    return urls, (set(KINDS) if not kinds or "all" in kinds else kinds)


def _config_all(repo: Any, key: str) -> list[str]:
    res = repo.git("config", "--get-all", key, check=False)
    if res.status != 0:
        return []
    return [ln.strip() for ln in res.stdout.decode(errors="replace").splitlines() if ln.strip()]


def events_of(repo: Any, old: str | None, new: str) -> list[Event]:
    """The events of the board commits after ``old`` up to ``new``, oldest first.

    Args:
        repo: an open :class:`~gitboard.store.repo.BoardRepo`.
        old: the tip delivered last (None or not an ancestor of ``new``: from their merge
            base, or nothing when they share none).
        new: the current tip.

    Raises:
        GitFailure: git could not read the history.
    """
    from gitboard.store.history import history

    if old == new:
        return []
    since = old
    if old is not None and not repo.is_ancestor(old, new):
        res = repo.git("merge-base", old, new, check=False)
        since = res.stdout.decode().strip() if res.status == 0 else None
        if since is None:
            return []
    entries = history(repo, new, since=since) if since else []
    out: list[Event] = []
    for entry in reversed(entries):
        event = _event(repo, entry)
        if event is not None:
            out.append(event)
    return out


def _event(repo: Any, e: dict[str, Any]) -> Event | None:
    """The event of one board commit (a ``gitboard log --json`` entry), or None."""
    from gitboard.board.names import LEAD

    action, actor, task, subject, commit = e["action"], e["actor"] or "", e["task"], e["subject"], e["commit"]
    tid = task if isinstance(task, int) else None
    key = commit + ":"
    if action == "plan-request":
        plan = _request_field(repo, commit, "plan")
        return Event(key + "plan", "plan", f"gitboard: {actor} asks for plan approval",
                     f"{actor} submitted a plan for the lead's approval:\n\n{plan}".rstrip(), None, actor)
    if action == "send":
        m = re.match(r"send (\S+) to (\S+) by (\S+)$", subject)
        if m and m.group(2) == LEAD and m.group(1) == "message":
            content = _added_field(repo, commit, "content")
            return Event(key + "message", "message", f"gitboard: message from {actor} to the lead",
                         content or subject, None, actor)
        return None
    if action == "fail" and tid is not None:
        note = _task_note(repo, commit, tid)
        kind = "budget" if note.lower().startswith("budget") else "failed"
        title = f"gitboard: task #{tid} stopped on its budget" if kind == "budget" else f"gitboard: task #{tid} failed"
        return Event(key + kind, kind, title, f"{actor} ended task #{tid}: {note or 'failed'}", tid, actor)
    if action == "release" and tid is not None:
        reason = subject.partition(": ")[2]
        if reason.startswith("stalled"):
            return Event(key + "stall", "stall", f"gitboard: task #{tid} stalled",
                         f"{actor}'s run of task #{tid} stalled and the task was released: {reason}", tid, actor)
        if reason.startswith("budget"):
            return Event(key + "budget", "budget", f"gitboard: task #{tid} stopped on its budget",
                         f"{actor} released task #{tid}: {reason}", tid, actor)
        return None
    if action in ("reject", "rework") and tid is not None:
        feedback = _rework_feedback(repo, commit, tid)
        by = "the lead's review" if action == "reject" else "the merge queue"
        return Event(key + "rework", "rework", f"gitboard: task #{tid} sent back for rework",
                     f"{by} sent task #{tid} back:\n\n{feedback}".rstrip(), tid, actor)
    if action == "merge" and tid is not None:
        return Event(key + "merge", "merge", f"gitboard: task #{tid} merged", f"{actor} merged task #{tid}.", tid, actor)
    if action == "claim" and e.get("takeover_from") and tid is not None:
        gone = e["takeover_from"]
        return Event(key + "dead", "dead", f"gitboard: {gone} found dead",
                     f"{gone}'s lease on task #{tid} expired and {actor} took the task over.", tid, actor)
    return None


def _show_json(repo: Any, commit: str, path: str) -> Any:
    res = repo.git("show", f"{commit}:{path}", check=False)
    if res.status != 0:
        return None
    try:
        return json.loads(res.stdout)
    except ValueError:
        return None


def _task_path(repo: Any, commit: str, tid: int) -> str:
    """The path of task ``tid``'s file in the board at ``commit`` (its format file says the layout)."""
    from gitboard.board import layout

    found = _show_json(repo, commit, layout.FORMAT_PATH)
    version = layout.LEGACY_FORMAT if found is None else (layout.format_of(found) or layout.FORMAT)
    return layout.task_path(tid, version)


def _task_json(repo: Any, commit: str, tid: int) -> dict:
    found = _show_json(repo, commit, _task_path(repo, commit, tid))
    return found if isinstance(found, dict) else {}


def _task_note(repo: Any, commit: str, tid: int) -> str:
    result = _task_json(repo, commit, tid).get("result")
    if isinstance(result, dict):
        for k in ("note", "reason", "summary"):
            if isinstance(result.get(k), str) and result[k].strip():
                return result[k].strip()
    return ""


def _rework_feedback(repo: Any, commit: str, tid: int) -> str:
    rework = _task_json(repo, commit, tid).get("rework")
    if isinstance(rework, list) and rework and isinstance(rework[-1], dict):
        last = rework[-1]
        return str(last.get("feedback") or last.get("reason") or "")
    return ""


def _added(repo: Any, commit: str) -> list[str]:
    res = repo.git("diff-tree", "--no-commit-id", "-r", "--name-only", "--diff-filter=A", "--root", commit,
                   check=False)
    return res.stdout.decode(errors="replace").splitlines() if res.status == 0 else []


def _added_field(repo: Any, commit: str, key: str) -> str:
    for path in _added(repo, commit):
        found = _show_json(repo, commit, path)
        if isinstance(found, dict) and isinstance(found.get(key), str):
            return found[key]
    return ""


def _request_field(repo: Any, commit: str, key: str) -> str:
    return _added_field(repo, commit, key)


def dead_members(repo: Any) -> list[Event]:
    """``dead`` events for the members registered on this host whose process is gone while the
    roster says they work or idle (:func:`gitboard.overview.teammates`); keyed by the member's
    name and its roster entry's ``updated_at``, so one death is one event."""
    from gitboard.overview import teammates
    from gitboard.store.read import read_board

    board = read_board(repo, fresh=False)
    out = []
    stamps = {m.name: m.updated_at for m in board.team.members}
    for mate in teammates(repo, board):
        if mate.status == "dead":
            task = f" (task #{mate.task})" if mate.task else ""
            out.append(Event(f"dead:{mate.name}:{stamps.get(mate.name) or ''}", "dead",
                             f"gitboard: {mate.name} found dead",
                             f"{mate.name}'s process on this host is gone{task}; "
                             f"its last log line: {mate.last_line or '-'}", mate.task, ""))
    return out


# -- delivery -----------------------------------------------------------------------------
def state_path(common_dir: str) -> str:
    """``<git-common-dir>/gitboard/notify.json``."""
    return os.path.join(common_dir, "gitboard", STATE_NAME)


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {"tip": None, "delivered": [], "pending": []}
    if not isinstance(data, dict):
        return {"tip": None, "delivered": [], "pending": []}
    data.setdefault("tip", None)
    data["delivered"] = [k for k in data.get("delivered") or [] if isinstance(k, str)]
    data["pending"] = [p for p in data.get("pending") or [] if isinstance(p, dict)]
    return data


def _save(path: str, data: dict[str, Any]) -> None:
    from gitboard.store.files import replace_whole

    data["delivered"] = data["delivered"][-KEEP_DELIVERED:]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not replace_whole(path, json.dumps(data, ensure_ascii=False, indent=1).encode()):
        raise BoardError(f"cannot write {path}")


def url_id(url: str) -> str:
    """A short stable id of a notification URL (its secrets never go into the state file)."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def apprise_send(url: str, title: str, body: str) -> bool:
    """Deliver one notification to one Apprise URL; True if it was accepted.

    Raises:
        Invalid: Apprise does not know the URL's scheme.
    """
    import apprise

    ap = apprise.Apprise()
    if not ap.add(url):
        raise Invalid(f"git config {URL_KEY}: not a URL Apprise supports: {_safe(url.split('://')[0])}://...")
    return bool(ap.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))


def _safe(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def deliver(repo_dir: str, *, send: Callable[[str, str, str], bool] = apprise_send,
            log: Callable[[str], None] = lambda s: None, check_dead: bool = True) -> list[Event]:
    """One pass: deliver the events since the last delivered tip to every configured URL,
    each once per clone, and return the events delivered.

    Runs under the state file's lock (waiting for another pass of the clone to finish). With
    no URL configured it only moves the delivered tip on. The first pass of a clone starts
    at the current tip.

    Args:
        repo_dir: a directory of the clone.
        send: ``(url, title, body) -> delivered`` (default: Apprise).
        log: where a line per delivery (or failure) goes; board text in it is escaped.
        check_dead: also look for members whose process on this host is gone.

    Raises:
        Invalid: a bad ``gitboard.notify.events``.
        GitFailure: no board, or git failed.
    """
    from filelock import FileLock

    from gitboard.store.read import current_tip
    from gitboard.store.repo import BoardRepo

    with BoardRepo(repo_dir, offline=True) as repo:
        urls, kinds = config(repo)
        path = state_path(repo.common_dir)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with FileLock(path + ".lock"):
            state = _load(path)
            tip = current_tip(repo, fresh=False)
            first = state["tip"] is None
            events = [] if first else events_of(repo, state["tip"], tip)
            if check_dead and urls:
                events += dead_members(repo)
            events = [ev for ev in events if ev.kind in kinds]
            done = set(state["delivered"])
            sent: list[Event] = []
            todo = [dict(p) for p in state["pending"]]
            for ev in events:
                for url in urls:
                    k = f"{ev.key}@{url_id(url)}"
                    if k not in done and all(p["key"] != k for p in todo):
                        todo.append({**asdict(ev), "key": k, "url": url_id(url), "attempts": 0})
            state["pending"] = []
            by_id = {url_id(u): u for u in urls}
            for item in todo:
                url = by_id.get(item["url"])
                if url is None:
                    continue  # the URL was removed from the configuration
                try:
                    ok = send(url, item["title"], item["body"])
                except Invalid:
                    raise
                except Exception as e:  # a failed delivery is retried later, never fatal
                    ok = False
                    log(f"notify: {item['kind']} not delivered: {type(e).__name__}: {_safe(str(e))}")
                if ok:
                    state["delivered"].append(item["key"])
                    done.add(item["key"])
                    if not any(s.key == item["key"].rpartition("@")[0] for s in sent):
                        sent.append(Event(item["key"].rpartition("@")[0], item["kind"], item["title"], item["body"],
                                          item.get("task"), item.get("actor", "")))
                    log(f"notify: {_safe(item['title'])}")
                else:
                    item["attempts"] = int(item.get("attempts", 0)) + 1
                    if item["attempts"] < MAX_ATTEMPTS:
                        state["pending"].append(item)
                    else:
                        log(f"notify: gave up on {_safe(item['title'])} after {MAX_ATTEMPTS} attempts")
                _save(path, state)  # after each delivery: a crash never sends one twice
            state["tip"] = tip
            _save(path, state)
    return sent


def follow(repo_dir: str, stop: threading.Event, *, poll: float = POLL,
           send: Callable[[str, str, str], bool] = apprise_send, log: Callable[[str], None] = lambda s: None) -> None:
    """Deliver events until ``stop`` is set: a pass now and each time the local board ref
    moves (noticed within 0.1 s); in remote mode the board is fetched every ``poll`` seconds.

    Raises:
        Invalid, GitFailure: as :func:`deliver` on the first pass; later failures are
            logged and retried.
    """
    from gitboard.store.refwatch import Fetcher, RefWatcher
    from gitboard.store.repo import BoardRepo

    deliver(repo_dir, send=send, log=log)
    with BoardRepo(repo_dir) as repo:
        fetcher = Fetcher(repo_dir, poll) if repo.remote and not repo.offline else None
        if fetcher:
            fetcher.thread.start()
        watcher = RefWatcher(repo)
        tip = watcher.tip()
        try:
            while not stop.is_set():
                tip = watcher.wait_for_change(tip, poll, abort=stop)
                if stop.is_set():
                    break
                try:
                    deliver(repo_dir, send=send, log=log)
                except BoardError as e:
                    log(f"gitboard: warning: notify: {e.message}")
        finally:
            if fetcher:
                fetcher.stop.set()


def follow_quietly(repo_dir: str, stop: threading.Event, say: Callable[[str], None]) -> None:
    """:func:`follow` for a server's thread: only when a URL is configured; a failure is one
    warning line, never an exception."""
    from gitboard.store.repo import BoardRepo

    try:
        with BoardRepo(repo_dir, offline=True) as repo:
            urls, _ = config(repo)
        if urls:
            follow(repo_dir, stop)
    except BoardError as e:
        say(f"gitboard: warning: notifications stopped: {e.message}")
    except Exception as e:  # never take the server down
        say(f"gitboard: warning: notifications stopped: {type(e).__name__}: {e}")


__all__ = ["Event", "KINDS", "URL_KEY", "EVENTS_KEY", "config", "events_of", "dead_members", "deliver", "follow",
           "follow_quietly", "apprise_send", "state_path", "url_id", "MAX_ATTEMPTS"]
