"""A test double of the board's TeamPort (gitboard.agents.base.TeamPort), recording every call.

For agent-loop tests only; the real port (one board transaction per call) is tested
with the runtime.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from gitboard.board.errors import Conflict, NotFound
from gitboard.agents.base import AgentContext, TeamPort


def make_task(task_id: int = 1, subject: str = "Write hello.txt", description: str = "", **kw) -> dict:
    """A board task object (the fields agents read)."""
    return {"id": task_id, "subject": subject, "description": description, "status": "in_progress",
            "owner": "alice", "blockedBy": [], "run": None, "role": None, "result": None, **kw}


@dataclass
class FakePort(TeamPort):
    """TeamPort double.

    ``inbox`` is a queue of batches: each ``read_inbox()`` returns the next batch (or []).
    """

    name: str = "alice"
    inbox: deque = field(default_factory=deque)
    tasks: dict = field(default_factory=dict)
    plan_answer: dict = field(default_factory=lambda: {"request_id": "plan1", "status": "approved", "feedback": ""})
    sent: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    shutdown_answers: list = field(default_factory=list)
    plans: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    inbox_reads: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    def send(self, to: str, content: str, type: str = "message") -> dict:
        if to not in ("lead", "bob", "alice"):
            raise NotFound(f"no such member: {to}")
        msg = {"id": f"m{next(self._ids)}", "type": type, "from": self.name, "to": to, "content": content}
        self.sent.append(msg)
        return msg

    def read_inbox(self) -> list[dict]:
        self.inbox_reads += 1
        return self.inbox.popleft() if self.inbox else []

    def task_list(self) -> list[dict]:
        return [self.tasks[k] for k in sorted(self.tasks)]

    def task_get(self, task_id: int) -> dict:
        if task_id not in self.tasks:
            raise NotFound(f"no such task: #{task_id}")
        return self.tasks[task_id]

    def task_create(self, subject: str, description: str = "", blocked_by: list[int] | None = None) -> dict:
        task_id = max(self.tasks, default=0) + 1
        self.tasks[task_id] = make_task(task_id, subject, description, status="pending", owner="",
                                        blockedBy=list(blocked_by or []))
        return self.tasks[task_id]

    def claim_task(self, task_id: int) -> dict:
        task = self.task_get(task_id)
        if task["owner"] and task["owner"] != self.name:
            raise Conflict(f"task #{task_id} is claimed by {task['owner']}")
        task.update(owner=self.name, status="in_progress")
        self.claims.append(task_id)
        return task

    def respond_shutdown(self, request_id: str, approve: bool, reason: str = "") -> dict:
        self.shutdown_answers.append((request_id, approve, reason))
        return {"request_id": request_id, "status": "approved" if approve else "rejected"}

    def submit_plan(self, plan: str, timeout: float) -> dict:
        self.plans.append((plan, timeout))
        return dict(self.plan_answer)

    def log(self, line: str) -> None:
        self.logs.append(line)


def make_ctx(worktree: Path, state_dir: Path, port: FakePort | None = None, task: dict | None = None,
             **kw) -> AgentContext:
    """An AgentContext for alice (role dev, team test) on ``task`` (default: make_task())."""
    return AgentContext(name="alice", role="dev", team_name="test", task=task or make_task(),
                        worktree=worktree, state_dir=state_dir, port=port or FakePort(),
                        model=kw.pop("model", "claude-test-model"), **kw)
