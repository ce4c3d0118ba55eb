"""The ``shell`` agent: runs the task's ``run`` command in its worktree.

It needs no key and no network -- the embedded default, used by ``gitboard
demo`` and the quickstart. It claims only tasks that have a ``run`` command.
The command runs as ``/bin/sh -c RUN`` in the worktree with a timeout
(``GITBOARD_COMMAND_TIMEOUT``, default 3600 s) and the teammate's environment
plus ``GITBOARD_ACTOR``, ``GITBOARD_TASK``, ``GITBOARD_WORKTREE`` ... Exit 0
completes the task; any other exit fails it, and the result carries
``exit_code`` and ``output_tail``. A task back for rework restarts its branch from
the current base and runs the command again. The inbox is read every ``--poll`` seconds
while it runs; a shutdown_request stops it (see :mod:`gitboard.agents.command`).
"""

from __future__ import annotations

from gitboard.agents.base import Agent, AgentContext, Outcome
from gitboard.agents.command import describe_exit, run_command, tail_lines


class ShellAgent(Agent):
    """Runs ``task["run"]``; see the module docstring.

    Args:
        timeout: seconds a command may run (None: ``GITBOARD_COMMAND_TIMEOUT`` or 3600).
    """

    name = "shell"
    #: A shell command cannot act on messages: they are logged, not worked on.
    handles_messages = False
    #: Rework restarts the branch from the current base and runs the command again (see gitboard.runtime.rework).
    restarts_rework = True

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout

    def accepts(self, task: dict) -> bool:
        """True if the task has a ``run`` command."""
        return bool((task or {}).get("run"))

    def run(self, ctx: AgentContext) -> Outcome:
        """Run the task's command; exit 0 is ``ok``. Never raises for the command's failure."""
        command = (ctx.task or {}).get("run")
        if not command:
            return Outcome(ok=False, reason="the task has no run command (the shell agent needs one)")
        res = run_command(ctx, command, timeout=self.timeout, label="run")
        tail = tail_lines(res.tail)
        how = describe_exit(res)
        ctx.port.log(f"run: {how}")
        details = {"exit_code": res.exit_code, "output_tail": res.tail}
        if res.shutdown or res.stopped:
            return Outcome(ok=False, shutdown=res.shutdown, reason=f"stopped ({how})", details=details)
        if res.exit_code == 0 and not res.timed_out:
            last = tail.splitlines()[-1] if tail else ""
            return Outcome(ok=True, summary=f"`{command}` exited 0" + (f": {last}" if last else ""),
                           details={"exit_code": 0})
        return Outcome(ok=False, summary=tail, reason=f"`{command}` {how}" + (f": {tail}" if tail else ""),
                       details=details)
