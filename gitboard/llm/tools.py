"""File and shell tools that work inside a task's worktree, as plain functions for any agent.

The input shapes are those of the tools (``bash {command}``, ``read_file {path,
limit?}``, ``write_file {path, content}``, ``edit_file {path, old_text, new_text}``).

Confinement: the file tools take paths *relative to the worktree*.
:func:`confine` resolves a path, following symlinks, and refuses with :class:`ToolError`:

- an empty path, or one containing a NUL byte;
- an absolute path;
- a path that resolves outside the worktree, whether through ``..`` or through a
  symlink (anywhere along the path) pointing outside;
- a path inside the worktree's ``.git`` (a file that points git at the clone's
  metadata; writing it would redirect the worktree).

``..`` that stays inside (``src/../README.md``) is allowed. The check happens when the
tool runs; a process racing to swap a checked directory for a symlink between the
check and the write is not guarded against (bash, which the model also has, is not
confined at all: see docs/concepts/identity.md).

:func:`run_bash` runs a command in the worktree with a timeout (seconds) and returns
its merged stdout and stderr capped at ``max_output`` characters. It is *not*
confined: the command can touch anything the teammate's user can.

Errors: the file tools raise :class:`ToolError` with a message meant for the model
(the anthropic agent turns it into a tool_result with ``is_error: true``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gitboard import proc as processes

#: Largest text a tool returns to the model, in characters.
MAX_OUTPUT_CHARS = 50_000
#: Largest file read_file will open, in bytes (larger files: use ``limit`` or bash).
MAX_READ_BYTES = 10 * 1024 * 1024
#: Default bash timeout, in seconds.
BASH_TIMEOUT = 120.0
#: After a command exits, how long to wait for background children to close its output, in seconds.
_DRAIN_GRACE = 1.0
#: Seconds a timed-out or cancelled command gets between SIGTERM and SIGKILL.
KILL_GRACE = 1.0


class ToolError(Exception):
    """A tool call that was refused or failed; ``str(err)`` is the message for the model."""


def cap_text(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Return ``text`` if it has at most ``limit`` characters, else its head and tail around a marker.

    The head keeps 2/5 and the tail 3/5 of ``limit`` (errors tend to be at the end); the
    marker reads ``[... N characters omitted ...]``.
    """
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[-tail:]}"


def confine(worktree: str | Path, path: str) -> Path:
    """Resolve ``path`` (relative to ``worktree``) to an absolute path inside the worktree.

    Symlinks are resolved (``Path.resolve``), so a link inside the worktree that points
    outside it is refused like ``../x``. The returned path may not exist yet.

    Returns:
        the resolved absolute path.

    Raises:
        ToolError: empty path, NUL byte, absolute path, an escape from the worktree, a
            path in ``.git``, or a symlink loop.
    """
    if not isinstance(path, str) or not path.strip():
        raise ToolError("path is empty: give a path relative to the worktree")
    if "\x00" in path:
        raise ToolError("path contains a NUL byte")
    if os.path.isabs(path):
        raise ToolError(f"{path}: absolute paths are refused; give a path relative to the worktree")
    root = Path(worktree).resolve()
    try:
        target = (root / path).resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python 3.11)
        raise ToolError(f"{path}: cannot resolve: {e}") from None
    if target != root and not target.is_relative_to(root):
        raise ToolError(f"{path}: resolves outside the worktree; refused")
    rel = target.relative_to(root)
    if rel.parts and rel.parts[0] == ".git":
        raise ToolError(f"{path}: the worktree's .git is off limits")
    return target


def _display(worktree: str | Path, target: Path) -> str:
    """Return ``target`` relative to the worktree, for messages ('.' for the root)."""
    return str(target.relative_to(Path(worktree).resolve())) or "."


def read_file(worktree: str | Path, path: str, limit: int | None = None) -> str:
    """Return a text file's contents: the first ``limit`` lines if given, capped at MAX_OUTPUT_CHARS.

    Undecodable UTF-8 bytes are replaced (U+FFFD). When lines are cut, a last line
    ``... (N more lines)`` says how many.

    Raises:
        ToolError: refused path (see :func:`confine`), missing file, a directory, a
            binary file (NUL byte in the first 8 KiB), a file over MAX_READ_BYTES with
            no ``limit``, or an OS error.
    """
    target = confine(worktree, path)
    if limit is not None:
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            raise ToolError(f"limit must be an integer, got {limit!r}") from None
        if limit < 0:
            raise ToolError("limit must not be negative")
    try:
        if target.is_dir():
            raise ToolError(f"{path}: is a directory (use bash to list it)")
        size = target.stat().st_size
        if size > MAX_READ_BYTES and not limit:
            raise ToolError(f"{path}: {size} bytes is too large to read whole; pass limit or use bash")
        with open(target, "rb") as f:
            data = f.read(MAX_READ_BYTES)
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file") from None
    except OSError as e:
        raise ToolError(f"{path}: {e.strerror or e}") from None
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path}: binary file ({size} bytes); not shown")
    lines = data.decode("utf-8", errors="replace").splitlines()
    if limit and limit < len(lines):
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return cap_text("\n".join(lines))


def write_file(worktree: str | Path, path: str, content: str) -> str:
    """Write ``content`` (UTF-8) to ``path``, creating parent directories; return ``Wrote N bytes to PATH``.

    Raises:
        ToolError: refused path, the target is a directory, or an OS error.
    """
    target = confine(worktree, path)
    if not isinstance(content, str):
        raise ToolError("content must be a string")
    data = content.encode("utf-8")
    try:
        if target.is_dir():
            raise ToolError(f"{path}: is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as e:
        raise ToolError(f"{path}: {e.strerror or e}") from None
    return f"Wrote {len(data)} bytes to {_display(worktree, target)}"


def edit_file(worktree: str | Path, path: str, old_text: str, new_text: str) -> str:
    """Replace the first occurrence of ``old_text`` with ``new_text`` in ``path``.

    Returns ``Edited PATH`` (plus a note when ``old_text`` occurs more than once).

    Raises:
        ToolError: refused path, missing file, empty ``old_text``, ``old_text`` not found,
            or an OS error.
    """
    target = confine(worktree, path)
    if not isinstance(old_text, str) or not old_text:
        raise ToolError("old_text must be a non-empty string")
    if not isinstance(new_text, str):
        raise ToolError("new_text must be a string")
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ToolError(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise ToolError(f"{path}: not UTF-8 text; use write_file or bash") from None
    except OSError as e:
        raise ToolError(f"{path}: {e.strerror or e}") from None
    count = text.count(old_text)
    if count == 0:
        raise ToolError(f"{path}: old_text not found")
    try:
        target.write_text(text.replace(old_text, new_text, 1), encoding="utf-8")
    except OSError as e:
        raise ToolError(f"{path}: {e.strerror or e}") from None
    note = f" (old_text occurs {count} times; replaced the first)" if count > 1 else ""
    return f"Edited {_display(worktree, target)}{note}"


@dataclass
class BashResult:
    """What :func:`run_bash` saw.

    Attributes:
        exit_code: the command's exit status (negative: killed by that signal); None if it timed out.
        output: merged stdout and stderr, decoded as UTF-8 with replacement, capped.
        timed_out: the command ran past its timeout and its process group was killed.
        seconds: wall time.
        cancelled: the teammate was told to stop (``cancel`` was set) and the process group was killed.
    """

    exit_code: int | None
    output: str
    timed_out: bool = False
    seconds: float = 0.0
    cancelled: bool = False

    def to_text(self) -> str:
        """Return the tool_result text: the output (or ``(no output)``) plus a status line unless it exited 0."""
        text = self.output.strip("\n") or "(no output)"
        if self.cancelled:
            return f"{text}\n[stopped after {self.seconds:.0f} s: the teammate is stopping; the command was killed]"
        if self.timed_out:
            return f"{text}\n[timed out after {self.seconds:.0f} s; the command was killed]"
        if self.exit_code:
            return f"{text}\n[exit code {self.exit_code}]"
        return text


class _Capture:
    """Keeps the first and last ``limit`` bytes of a stream, read in a thread."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while chunk := self.stream.read1(65536):
                with self.lock:
                    self.total += len(chunk)
                    room = self.limit - len(self.head)
                    if room > 0:
                        self.head += chunk[:room]
                        chunk = chunk[room:]
                    if chunk:
                        self.tail.append(chunk)
                        self.tail_len += len(chunk)
                        while self.tail_len - len(self.tail[0]) >= self.limit:
                            self.tail_len -= len(self.tail.popleft())
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.stream.close()
            except OSError:
                pass

    def text(self) -> str:
        with self.lock:
            tail = b"".join(self.tail)[-self.limit:]
            omitted = self.total - len(self.head) - len(tail)
            head = bytes(self.head)
        if omitted > 0:
            return (head.decode("utf-8", "replace") + f"\n[... {omitted} bytes omitted ...]\n"
                    + tail.decode("utf-8", "replace"))
        return (head + tail).decode("utf-8", "replace")


def run_bash(worktree: str | Path, command: str, timeout: float = BASH_TIMEOUT,
             env: Mapping[str, str] | None = None, max_output: int = MAX_OUTPUT_CHARS,
             cancel: threading.Event | None = None) -> BashResult:
    """Run ``command`` with ``bash -c`` (``/bin/sh -c`` without bash) in ``worktree``.

    The command runs in its own session with stdin from /dev/null; on timeout its
    whole process group is ended (:func:`gitboard.proc.end_group`: SIGTERM, then SIGKILL after
    :data:`KILL_GRACE` seconds). Output is stdout and stderr merged, keeping
    at most ``max_output`` bytes from the start and from the end. Background children
    still holding the output open 1 s after the command exits are left running, and
    their further output is not captured.

    Args:
        worktree: the directory to run in.
        command: the shell command line.
        timeout: seconds before the command is killed.
        env: the complete environment for the command; defaults to ``os.environ``.
        max_output: cap in characters (bytes before decoding) for each of head and tail.
        cancel: when set while the command runs (checked every 0.1 s), its process group is
            killed and the result is marked ``cancelled``.

    Raises:
        ToolError: an empty command, or the shell could not be started.
    """
    if not isinstance(command, str) or not command.strip():
        raise ToolError("command is empty")
    shell = shutil.which("bash") or "/bin/sh"
    start = time.monotonic()
    try:
        proc = processes.start([shell, "-c", command], cwd=str(worktree), env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise ToolError(f"cannot start {shell}: {e}") from None
    cap = _Capture(proc.stdout, max(1, max_output // 2))
    try:
        waited = processes.wait(proc, timeout=timeout, cancel=cancel, tick=0.1, grace=KILL_GRACE, started=start)
    except BaseException:
        processes.end_group(proc, grace=0)
        raise
    timed_out, cancelled = waited.how == processes.TIMED_OUT, waited.how == processes.CANCELLED
    cap.thread.join(_DRAIN_GRACE if not (timed_out or cancelled) else 5.0)
    text = cap.text()
    if cap.thread.is_alive():
        text += "\n[background processes still hold the output open; their later output is not captured]"
    return BashResult(exit_code=None if timed_out else proc.returncode, output=cap_text(text, max_output),
                      timed_out=timed_out, seconds=time.monotonic() - start, cancelled=cancelled)
