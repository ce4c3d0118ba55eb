"""What each tool of gitboard's MCP server does, over the board client; no SDK import.

:class:`BoardTools` has one method per tool of :mod:`gitboard.mcp.catalog`; each returns an
:class:`Answer` -- the structured content (a JSON object) and a short text -- or raises the
board's own error (:mod:`gitboard.board.errors`), which the server turns into an MCP tool
error carrying gitboard's one line. Every write is one commit through
:class:`gitboard.client.BoardClient` acting as the server's member; a refused write changes
nothing. In remote mode reads fetch first and writes push, as the command line does.

A server the teammate runtime starts for an agent CLI working on a task (``--task N
--report FILE``) keeps that task's end for the runtime: ``done_task``/``fail_task`` on task
N record the agent's verdict and note in the report file (:func:`gitboard.mcp.config.read_report`), and the
runtime's harness commits the work, pushes it and marks the task done or failed with the
note -- so the task's result always names its commit. The answers to ``submit_plan`` are
recorded there too, which is how ``--plan-first`` knows the lead approved a plan.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from gitboard.board import task_ops
from gitboard.board.clock import utcnow
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.board.request import PLAN, SHUTDOWN
from gitboard.client import BoardClient
from gitboard.mcp.catalog import MAX_PLAN_TIMEOUT
from gitboard.mcp.config import read_report

#: Most tasks one ``list_tasks`` call returns (a page); ``offset`` pages on.
MAX_LIMIT = 1000
#: Tasks per page unless the caller says otherwise.
DEFAULT_LIMIT = 100
#: Characters of a review's patch returned (the rest is cut, and ``patch_truncated`` says so).
PATCH_CHARS = 60000
#: Seconds between board reads while ``submit_plan`` waits (local mode; remote mode: 4x).
PLAN_POLL = 0.25


@dataclass
class Answer:
    """A tool's result: ``content`` (the structured content, a JSON object) and ``text`` (a short text)."""

    content: dict
    text: str


def _one_line(text: Any, limit: int = 120) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _task_line(t: dict) -> str:
    owner = f" owner {t['owner']}" if t.get("owner") else ""
    return f"#{t['id']} [{t['status']}]{owner}: {_one_line(t.get('subject'))}"


def _task_text(t: dict) -> str:
    lines = [_task_line(t)]
    if t.get("blockedBy"):
        lines.append("blocked by " + ", ".join(f"#{b}" for b in t["blockedBy"]))
    if t.get("role"):
        lines.append(f"role {t['role']}")
    if t.get("description"):
        lines += ["", str(t["description"])]
    return "\n".join(lines)


class BoardTools:
    """The tools, acting as ``client.actor`` on ``client``'s board.

    Args:
        client: the board client (its actor is the member every commit names).
        lease: seconds of a claim's lease (and of a renewal unless the call gives one).
        task: the task a runtime-wired agent works on (None: an interactive session).
        report: where a runtime-wired server records the agent's verdict and plan answers.
    """

    def __init__(self, client: BoardClient, *, lease: float = task_ops.DEFAULT_LEASE,
                 task: int | None = None, report: str | os.PathLike | None = None) -> None:
        self.client = client
        self.actor = client.actor
        self.lease = lease
        self.task = task
        self.report = Path(report) if report else None
        self._listing: dict = {}  # the last listing index read (see gitboard.store.listing.listing_index)
        self._report_lock = threading.Lock()  # tools run on worker threads, maybe several at once

    @property
    def is_lead(self) -> bool:
        """True when the server acts as the lead (and offers the lead's tools)."""
        return self.actor == LEAD

    # -- the report of a runtime-wired server ------------------------------------------
    def _record(self, key: str, value: dict) -> None:
        if self.report is None:
            return
        with self._report_lock:
            doc = read_report(self.report)
            doc.update({"task": self.task, key: value})
            if key == "plan" and value.get("status") != "pending":
                doc["answered"] = [*doc.get("answered", []), value["request_id"]]
            tmp = self.report.with_name(f".{self.report.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc) + "\n")
            os.replace(tmp, self.report)

    # -- tasks ------------------------------------------------------------------------
    def list_tasks(self, status: str | None = None, owner: str | None = None, ready: bool = False,
                   role: str | None = None, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Answer:
        """The tasks sorted by id, filtered like ``gitboard task list``, one page: ``{"tasks",
        "total", "offset", "truncated", "corrupt"}``. Raises Invalid (unknown status, bad page)."""
        from gitboard.store.listing import task_list_page
        from gitboard.store.read import read_board

        if status:
            task_ops.check_status(status)
        if offset < 0:
            raise Invalid(f"offset must be 0 or more, not {offset}")
        if not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
        now = utcnow()
        with self.client.open() as repo:
            page = task_list_page(repo, now, status=status or None, owner=owner or None, ready=ready,
                                  role=role or None, offset=offset, limit=limit, memo=self._listing)
            if page is not None:
                data, total, corrupt = page
                tasks = json.loads(data)
            else:  # the caches cannot answer: read the board (which fills them)
                board = read_board(repo, fresh=False)  # fetched just now
                kept = [board.tasks[i] for i in sorted(board.tasks)]
                if ready:
                    kept = [t for t in kept if board.is_ready(t, now) and (not role or t.role in (None, role))]
                if status:
                    kept = [t for t in kept if t.status == status]
                if owner:
                    kept = [t for t in kept if t.owner == owner]
                total, corrupt = len(kept), dict(board.corrupt)
                tasks = [t.to_json() for t in kept[offset:offset + limit]]
        truncated = offset + len(tasks) < total
        doc = {"tasks": tasks, "total": total, "offset": offset, "truncated": truncated, "corrupt": corrupt}
        head = f"{total} task(s)" + (f"; showing {offset + 1}-{offset + len(tasks)}" if truncated or offset else "")
        lines = [head] + [_task_line(t) for t in tasks]
        if corrupt:
            lines.append(f"{len(corrupt)} corrupt file(s) skipped: {', '.join(sorted(corrupt))}")
        return Answer(doc, "\n".join(lines))

    def show_task(self, task_id: int) -> Answer:
        """One task object. Raises NotFound."""
        task = self.client.task(task_id).to_json()
        return Answer(task, _task_text(task))

    def claim_task(self, task_id: int | None = None, lease: float | None = None) -> Answer:
        """Claim ``task_id`` (None: the next ready task for the member's roster role) with a lease.
        Raises Conflict (taken, blocked, finished, another role), NotFound (nothing ready)."""
        task = self.client.claim(task_id, lease=self.lease if lease is None else lease).to_json()
        return Answer(task, f"claimed {_task_line(task)} until {task.get('lease_expires_at') or 'released'}")

    def renew_task(self, task_id: int, lease: float | None = None) -> Answer:
        """Extend the lease on the member's task. Raises Conflict (not ours), NotFound."""
        task = self.client.renew(task_id, self.lease if lease is None else lease).to_json()
        return Answer(task, f"renewed #{task['id']} until {task.get('lease_expires_at')}")

    def _finish(self, task_id: int, ok: bool, note: str) -> Answer:
        verdict = "completed" if ok else "failed"
        if self.task is not None and int(task_id) == self.task and self.report is not None:
            task = self.client.task(task_id).to_json()
            if task.get("owner") != self.actor or task.get("status") != "in_progress":
                raise Conflict(f"task #{task_id} is not in progress under {self.actor}")
            self._record("done", {"ok": ok, "note": note})
            return Answer({"task": task, "recorded": verdict, "note": note,
                           "next": "end this session: gitboard commits and pushes the work, then marks the task"},
                          f"recorded: #{task_id} will be marked {verdict} when this session ends; gitboard "
                          f"commits and pushes your work in the worktree first. End the session now.")
        task = self.client.finish(task_id, ok, {"note": note} if note else None).to_json()
        return Answer(task, f"{verdict} #{task['id']}")

    def done_task(self, task_id: int, note: str = "") -> Answer:
        """Mark the member's task completed with ``note``. Raises Conflict (not ours), NotFound."""
        return self._finish(task_id, True, note)

    def fail_task(self, task_id: int, note: str = "") -> Answer:
        """Mark the member's task failed with ``note``. Raises Conflict (not ours), NotFound."""
        return self._finish(task_id, False, note)

    # -- messages ---------------------------------------------------------------------
    def send_message(self, to: str, content: str) -> Answer:
        """Send a message. Raises Invalid (bad name, too long), NotFound (unknown recipient)."""
        msg = self.client.send(to, content).to_json()
        return Answer(msg, f"sent to {to} (message {msg.get('id')})")

    def broadcast(self, content: str) -> Answer:
        """Send one message to every member but the actor, in one commit."""
        msgs = [m.to_json() for m in self.client.broadcast(content)]
        return Answer({"messages": msgs}, f"sent to {len(msgs)} member(s): "
                                         + (", ".join(m.get("to", "") for m in msgs) or "nobody"))

    def read_inbox(self, peek: bool = False) -> Answer:
        """The member's inbox, oldest first: drained (each message returned once) unless ``peek``."""
        msgs = [m.to_json() for m in (self.client.peek() if peek else self.client.drain())]
        lines = [f"{len(msgs)} message(s)"]
        for m in msgs:
            extra = ""
            if m.get("request_id"):
                extra = f" request_id {m['request_id']}"
            lines.append(f"from {m.get('from')} ({m.get('type')}{extra}): {m.get('content', '')}")
            for key in ("plan", "feedback"):
                if m.get(key):
                    lines.append(f"  {key}: {m[key]}")
        return Answer({"messages": msgs}, "\n".join(lines))

    def ack_messages(self, ids: list[str]) -> Answer:
        """Remove the messages ``ids`` from the member's inbox: an acknowledged read, after
        :meth:`read_inbox` with ``peek``, so that a client that stops between the two loses no
        message. Ids no longer in the inbox are skipped; ``{"messages": [removed...]}``.

        Raises:
            Invalid: a malformed id."""
        removed = [m.to_json() for m in self.client.drain(ids=ids)]
        return Answer({"messages": removed}, f"removed {len(removed)} message(s) from your inbox")

    # -- protocols --------------------------------------------------------------------
    def submit_plan(self, plan: str, timeout: float = 600.0) -> Answer:
        """Submit a plan to the lead and wait up to ``timeout`` seconds for the answer:
        ``{"request_id", "status": "approved"|"rejected"|"pending", "feedback"}`` (``pending``:
        no answer in time; the request stays open and the answer comes to the inbox).

        Raises:
            Invalid: an empty plan, a timeout out of range.
        """
        if not plan.strip():
            raise Invalid("the plan is empty")
        if not 0 <= timeout <= MAX_PLAN_TIMEOUT:
            raise Invalid(f"timeout must be from 0 to {MAX_PLAN_TIMEOUT:g} seconds, not {timeout:g}")
        req = self.client.request_plan(plan)
        request_id = req.request_id
        with self.client.open() as repo:
            remote = bool(repo.remote) and not repo.offline
        limit = time.monotonic() + timeout
        answer = {"request_id": request_id, "status": "pending", "feedback": ""}
        while True:
            req = self.client.request(request_id, PLAN)
            if req.answered:
                answer = {"request_id": request_id, "status": req.status, "feedback": req.feedback}
                break
            left = limit - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, PLAN_POLL * (4 if remote else 1)))
        self._record("plan", answer)
        answer = {**answer, "next": {"approved": "do the work as planned",
                                     "rejected": "revise the plan with the feedback and call submit_plan again; "
                                                 "do not start the work yet",
                                     "pending": "wait: call submit_plan again or read_inbox later"}[answer["status"]]}
        if answer["status"] == "approved":
            text = f"plan {request_id} approved by the lead" + (f"; feedback: {answer['feedback']}"
                                                                 if answer["feedback"] else "") + ". Go ahead."
        elif answer["status"] == "rejected":
            text = (f"plan {request_id} rejected by the lead. Feedback:\n{answer['feedback']}\n"
                    "Revise the plan and submit it again with submit_plan; do not start the work yet.")
        else:
            text = (f"no answer to plan {request_id} within {timeout:g} s; it is still open (the answer "
                    "will come to your inbox). Wait: call submit_plan again or read_inbox later.")
        return Answer(answer, text)

    def answer_shutdown(self, request_id: str, approve: bool, reason: str = "") -> Answer:
        """Answer a shutdown_request to the member; approving marks it shutdown on the roster.
        Raises NotFound, Conflict (already answered)."""
        full = self.client.request(request_id, SHUTDOWN).request_id
        req = self.client.respond_shutdown(full, approve, reason).to_json()
        self._record("shutdown", {"request_id": full, "approve": bool(approve)})
        return Answer(req, f"shutdown request {full}: {'approved: stop now' if approve else 'rejected'}")

    def roster(self) -> Answer:
        """The ``gitboard team --json`` document."""
        from gitboard.runtime.process import roster_json

        with self.client.open() as repo:
            doc = roster_json(repo, self.client.board(repo=repo))
        lines = [f"team {doc.get('team_name', '')!r}: {len(doc.get('members', []))} member(s)"]
        for m in doc.get("members", []):
            task = f" on #{m['task']}" if m.get("task") else ""
            role = f" ({m['role']})" if m.get("role") else ""
            lines.append(f"{m.get('name')}{role}: {m.get('status')}{task}")
        return Answer(doc, "\n".join(lines))

    # -- the lead's -------------------------------------------------------------------
    def add_task(self, subject: str, description: str = "", blocked_by: Sequence[int] = (),
                 run: str | None = None, role: str | None = None) -> Answer:
        """Add a task. Raises Invalid, NotFound (unknown blocker)."""
        task = self.client.add_task(subject, description, blocked_by, run=run, role=role).to_json()
        return Answer(task, f"added {_task_line(task)}")

    def import_tasks(self, tasks: Sequence[Any]) -> Answer:
        """Add many tasks in one commit (``gitboard task import``'s items). Raises Invalid, NotFound."""
        if not isinstance(tasks, (list, tuple)) or not tasks:
            raise Invalid("tasks must be a non-empty list of task objects")
        added = [t.to_json() for t in self.client.import_tasks(list(tasks))]
        return Answer({"tasks": added}, f"added {len(added)} task(s): "
                                        + ", ".join(f"#{t['id']}" for t in added))

    def update_task(self, task_id: int, **fields: Any) -> Answer:
        """Edit a task (``gitboard task update``'s fields). Raises Invalid, NotFound, Conflict."""
        task = self.client.update_task(task_id, subject=fields.get("subject"),
                                       description=fields.get("description"),
                                       blocked_by=fields.get("blocked_by") or (), unblock=fields.get("unblock") or (),
                                       status=fields.get("status"), run=fields.get("run"),
                                       role=fields.get("role")).to_json()
        return Answer(task, f"updated {_task_line(task)}")

    def review_task(self, task_id: int, patch: bool = True) -> Answer:
        """The ``gitboard review --json`` document (with the diff unless ``patch`` is false; cut at
        :data:`PATCH_CHARS`). Raises NotFound, GitFailure."""
        doc = self.client.review(task_id, patch=patch)
        text = doc.get("patch")
        if isinstance(text, str) and len(text) > PATCH_CHARS:
            doc["patch"] = text[:PATCH_CHARS]
            doc["patch_truncated"] = True
        files = doc.get("files") or []
        lines = [f"#{task_id} on {doc.get('branch', {}).get('name')}: {len(doc.get('commits') or [])} commit(s), "
                 f"{len(files)} file(s), " + ("mergeable" if doc.get("mergeable") else
                                             f"conflicts in {', '.join(doc.get('conflicts') or [])}")]
        lines += [f"  {f.get('path')} +{f.get('added')} -{f.get('deleted')}" for f in files[:50]]
        if doc.get("patch"):
            lines += ["", doc["patch"]]
        return Answer(doc, "\n".join(lines))

    def approve_task(self, task_id: int, note: str = "") -> Answer:
        """Approve a completed task for the merge queue. Raises Conflict, NotFound."""
        task = self.client.approve(task_id, note or None).to_json()
        return Answer(task, f"approved #{task['id']} for the merge queue")

    def reject_task(self, task_id: int, feedback: str) -> Answer:
        """Send a completed task back for rework. Raises Invalid (no feedback), Conflict, NotFound."""
        task = self.client.reject(task_id, feedback).to_json()
        return Answer(task, f"sent #{task['id']} back for rework")

    def merge(self, task_ids: Sequence[int] = ()) -> Answer:
        """Run the merge queue with the configured check (``git config gitboard.check``);
        ``{"merged", "rework", "waiting", "stale", "log"}``. Raises Conflict, NotFound, GitFailure."""
        from gitboard.merge_queue.queue import run_queue

        log: list[str] = []
        doc = run_queue(self.client.repo_dir, [int(i) for i in task_ids] or None, actor=self.actor,
                        log=log.append)
        doc["log"] = log
        parts = [f"merged {len(doc.get('merged') or [])}"]
        for key in ("rework", "waiting", "stale"):
            if doc.get(key):
                parts.append(f"{key} {len(doc[key])}")
        return Answer(doc, ", ".join(parts) + ("\n" + "\n".join(log) if log else ""))

    def stop_teammate(self, name: str, reason: str = "") -> Answer:
        """Send ``name`` a shutdown_request. Raises NotFound (no such member), Conflict (one is pending)."""
        check_name(name, "member")
        if self.client.board().team.member(name) is None:
            raise NotFound(f"no member named {name!r} on the roster")
        req = self.client.request_shutdown(name, reason).to_json()
        return Answer(req, f"asked {name} to shut down (request {req['request_id']})")

    def answer_plan(self, request_id: str, approve: bool, feedback: str = "") -> Answer:
        """Approve or reject a pending plan (``request_id`` or a unique prefix).
        Raises Invalid (rejecting without feedback), NotFound, Conflict (answered)."""
        req = self.client.respond_plan(request_id, approve, feedback).to_json()
        return Answer(req, f"plan {req['request_id']} from {req['from']}: {req['status']}")

    def pending_plans(self) -> Answer:
        """The plans waiting for the lead's answer, oldest first."""
        plans = [r.to_json() for r in self.client.pending_plans()]
        lines = [f"{len(plans)} plan(s) waiting"]
        for p in plans:
            lines += [f"{p['request_id']} from {p['from']}:", str(p.get("plan", ""))]
        return Answer({"plans": plans}, "\n".join(lines))
