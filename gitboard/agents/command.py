"""Running a shell command in a task worktree while still listening to the inbox.

Used by the shell agent (the task's ``run`` command) and the exec agent (an
external agent CLI). The command:

- runs as ``/bin/sh -c COMMAND`` in the worktree, with the teammate's
  environment plus ``ctx.env`` (``GITBOARD_ACTOR``, ``GITBOARD_TASK`` ...);
- leads its own process group, recorded in
  ``<git-common-dir>/gitboard/pids/task-<id>.pgid``, so that stopping it
  stops its children too, and a teammate that takes the worktree over after a
  crash can kill what was left running (:func:`gitboard.runtime.worktree.kill_leftover`);
- gets SIGKILL if the teammate process dies (Linux ``PR_SET_PDEATHSIG``);
- has its output copied to the teammate's log (``| line``; a reader may rewrite the lines,
  as the agent CLI presets do) and its tail kept; every line counts as activity
  (``port.touch``) for stall detection.

Every ``ctx.poll`` seconds the runner drains the inbox: a shutdown_request is
approved at once and the command is stopped; any other message is logged and
held for the teammate's next piece of work (see :meth:`BoardPort.hold`).
"""

from __future__ import annotations

import collections
import os
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from gitboard import proc as processes
from gitboard.board.errors import BoardError
from gitboard.agents.base import AgentContext
from gitboard.agents.outage import Outage

def pgid_file(repo_state: Path, task_id: int) -> Path:
    """Return the file recording the process group of the command running in task ``task_id``'s
    worktree: ``<state_dir>/pids/task-<id>.pgid`` (``repo_state`` is ``<git-common-dir>/gitboard``).
    Clone state, so it stays under the git directory wherever the worktree is."""
    return Path(repo_state) / "pids" / f"task-{task_id}.pgid"


#: Characters of output kept as the tail reported in a task's result.
TAIL_CHARS = 2000
#: Seconds between checks for a stop (cancel, ``stop_when``) while a command runs.
CHECK_INTERVAL = 0.25
#: Default seconds a task's command may run; ``GITBOARD_COMMAND_TIMEOUT`` overrides.
DEFAULT_TIMEOUT = 3600.0


def command_timeout() -> float:
    """Return the command timeout in seconds: ``$GITBOARD_COMMAND_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`."""
    try:
        value = float(os.environ.get("GITBOARD_COMMAND_TIMEOUT", DEFAULT_TIMEOUT))
        return value if value > 0 else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


@dataclass
class CommandResult:
    """How a command ended.

    Attributes:
        exit_code: the exit status (negative: killed by that signal); None if it never started.
        tail: the last :data:`TAIL_CHARS` characters of its output (stdout and stderr).
        timed_out: it ran past its timeout and was stopped.
        shutdown: a shutdown_request was approved while it ran, and it was stopped.
        stopped: the teammate was told to stop (signal, lost lease, stall) and stopped it.
        error: why it could not start ("" if it did).
        stop_reason: why ``stop_when`` stopped it (a budget ...), "" if it did not.
    """

    exit_code: int | None
    tail: str = ""
    timed_out: bool = False
    shutdown: bool = False
    stopped: bool = False
    error: str = ""
    stop_reason: str = ""


def run_command(ctx: AgentContext, command: str | Sequence[str], *, stdin_text: str | None = None,
                timeout: float | None = None, label: str = "run",
                on_line: Callable[[str], list[str]] | None = None,
                stop_when: Callable[[], str | None] | None = None,
                env: Mapping[str, str] | None = None) -> CommandResult:
    """Run ``command`` in ``ctx.worktree`` and return how it ended; never raises for the command's failure.

    Args:
        ctx: the task's context (worktree, env, poll interval, port for the inbox and the log).
        command: a shell command line (run by ``/bin/sh -c``), or an argv list (run as it is).
        stdin_text: text written to the command's standard input (then closed); None gives it /dev/null.
        timeout: seconds before the command is stopped (default :func:`command_timeout`).
        label: the word that introduces the command in the log (``run``, ``exec``, ``claude`` ...).
        on_line: called with each line of output (stdout and stderr, in order); returns the lines
            to log (each as ``| line``). Default: every line is logged as it is.
        stop_when: checked about every :data:`CHECK_INTERVAL` seconds; a reason (a string) stops
            the command (``CommandResult.stop_reason``). For budgets read from streamed output.
        env: environment entries added after ``ctx.env`` (None values are not allowed).
    """
    timeout = command_timeout() if timeout is None else timeout
    port = ctx.port
    log = port.log
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    log(f"{label}: {command if isinstance(command, str) else ' '.join(shlex.quote(a) for a in argv)}")
    full_env = {**os.environ, **ctx.env, **(env or {})}
    try:
        proc = processes.start(argv, cwd=str(ctx.worktree), env=full_env,
                               stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, session=False,
                               leader_dies_with_parent=True)
    except OSError as e:
        return CommandResult(None, error=f"cannot start {argv[0]!r}: {e.strerror or e}")
    task_id = ctx.task.get("id") if ctx.task else None
    record = pgid_file(ctx.state_dir, task_id) if task_id else None
    if record is not None:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(f"{proc.pid}\n")
        except OSError:
            record = None

    tail: collections.deque[str] = collections.deque()
    size = [0]

    def read_output() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            text = raw.decode(errors="replace")
            port.touch()
            tail.append(text)
            size[0] += len(text)
            while size[0] > TAIL_CHARS and len(tail) > 1:
                size[0] -= len(tail.popleft())
            try:
                shown = on_line(text) if on_line is not None else [text.rstrip("\n")]
            except Exception as e:  # a reader must not kill the output pipe (the command would block)
                shown = [f"(cannot read this output line: {type(e).__name__}: {e}) {text.rstrip()}"]
            for one in shown:
                log("| " + one)

    def write_input() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin_text.encode())
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    if stdin_text is not None:
        threading.Thread(target=write_input, daemon=True).start()

    result = CommandResult(None)
    inbox = Outage(ctx.port.log, "the inbox")
    started = time.monotonic()
    next_inbox = started + ctx.poll
    stop = port.cancel
    while True:
        now = time.monotonic()
        remaining = timeout - (now - started)
        try:
            proc.wait(timeout=max(0.0, min(CHECK_INTERVAL, remaining, max(0.0, next_inbox - now))))
            break
        except subprocess.TimeoutExpired:
            pass
        if remaining <= 0:
            log(f"{label}: timed out after {timeout:g} s; stopping it")
            result.timed_out = True
            processes.end_group(proc)
            break
        if stop is not None and stop.is_set():
            log(f"{label}: stopping it")
            result.stopped = True
            processes.end_group(proc)
            break
        why = stop_when() if stop_when is not None else None
        if why:
            log(f"{label}: stopping it: {why}")
            result.stop_reason = why
            processes.end_group(proc)
            break
        if time.monotonic() >= next_inbox:
            next_inbox = time.monotonic() + ctx.poll
            if _shutdown_requested(ctx, inbox):
                result.shutdown = True
                processes.end_group(proc)
                break
    reader.join(timeout=5)
    result.exit_code = proc.returncode
    text = "".join(tail)
    result.tail = text[-TAIL_CHARS:]
    if record is not None:
        try:
            record.unlink()
        except OSError:
            pass
    return result


def _shutdown_requested(ctx: AgentContext, inbox: Outage | None = None) -> bool:
    """Drain the inbox; approve a shutdown_request (True). Other messages are held for later.

    ``inbox`` (kept by the caller across polls) logs a failing read once per outage,
    rather than once per poll.
    """
    port = ctx.port
    inbox = inbox or Outage(port.log, "the inbox")
    try:
        messages = port.drain_new()  # held messages are not re-read
    except BoardError as e:
        inbox.failed(e.message)
        return False
    inbox.ok()
    asked = None
    for m in messages:
        if m.get("type") == "shutdown_request" and asked is None:
            asked = m
            continue
        port.hold(m)
    if asked is None:
        return False
    port.log(f"shutdown requested by {asked.get('from')}: approving and stopping the command")
    try:
        port.respond_shutdown(asked["request_id"], True, "stopping my command and releasing the task")
    except BoardError as e:
        port.log(f"cannot answer the shutdown request: {e.message}")
    return True


def describe_exit(result: CommandResult) -> str:
    """Return a short phrase for how a command ended: ``exit 3``, ``killed by signal 9``, ``timed out after ...``."""
    if result.error:
        return result.error
    if result.timed_out:
        return "timed out"
    code = result.exit_code
    if code is None:
        return "did not finish"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit {code}"


def tail_lines(text: str, lines: int = 20) -> str:
    """Return the last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])

