"""A raw push: speak git's pkt-line protocol to ``git receive-pack`` with ``<old>`` values of our choosing.

``git push`` always declares the old value it fetched; a forger need not. :func:`raw_push` sends
exactly the ``<old> <new> <ref>`` commands it is given (and a pack of the objects named), to any
command that runs receive-pack: ``git receive-pack <repo>`` here, or ``ssh ... git-receive-pack
<repo>`` through gitolite. No side band is asked for, so the hook's stderr arrives on the
command's stderr and the report (``unpack ok``, ``ok <ref>`` / ``ng <ref> <why>``) on its stdout.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Mapping, Sequence

ZERO = "0" * 40


def pkt(data: bytes) -> bytes:
    """One pkt-line: four hex digits of length (itself included), then ``data``."""
    return b"%04x" % (len(data) + 4) + data


def read_pkts(stream: IO[bytes]) -> list[bytes]:
    """Read pkt-lines up to a flush packet (``0000``); return their payloads."""
    out = []
    while True:
        head = stream.read(4)
        if len(head) < 4:
            return out
        size = int(head, 16)
        if size == 0:
            return out
        out.append(stream.read(size - 4))


def make_pack(repo: Path, new: Sequence[str], have: Sequence[str] = ()) -> bytes:
    """A pack of the objects reachable from ``new`` and not from ``have`` (``git pack-objects --revs``)."""
    revs = "".join(f"{n}\n" for n in new) + "".join(f"^{h}\n" for h in have)
    p = subprocess.run(["git", "pack-objects", "--revs", "--stdout", "-q"], cwd=repo, input=revs.encode(),
                       capture_output=True, check=True)
    return p.stdout


@dataclass
class RawResult:
    """What receive-pack answered: its report lines, its stderr (the hook's lines), its exit status."""

    report: list[str]
    stderr: str
    returncode: int

    def status_of(self, ref: str) -> str:
        """``ok``, or the ``ng`` reason, for ``ref``; "" when the report does not name it."""
        for line in self.report:
            if line == f"ok {ref}":
                return "ok"
            if line.startswith(f"ng {ref} "):
                return line[len(f"ng {ref} "):]
        return ""


def start(argv: Sequence[str], updates: Sequence[tuple[str, str, str]], pack: bytes = b"",
          env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start the push: read the ref advertisement, send the commands and the pack; the caller
    collects the answer with :func:`finish` (two pushes can so be in flight at once)."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(env) if env is not None else None, cwd=cwd)
    assert proc.stdin is not None and proc.stdout is not None
    read_pkts(proc.stdout)  # the advertisement
    lines = [f"{o} {n} {r}".encode() for o, n, r in updates]
    proc.stdin.write(pkt(lines[0] + b"\0report-status\n") + b"".join(pkt(ln + b"\n") for ln in lines[1:]) + b"0000")
    if any(n != ZERO for _, n, _ in updates):
        proc.stdin.write(pack)
    proc.stdin.flush()
    return proc


def finish(proc: subprocess.Popen, timeout: float = 60) -> RawResult:
    """Read the report of a push :func:`start` began, and wait for the command to end."""
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    report = [ln.decode(errors="replace").rstrip("\n") for ln in read_pkts(proc.stdout)]
    proc.stdin.close()
    proc.stdout.read()
    err = proc.stderr.read().decode(errors="replace")
    return RawResult(report, err, proc.wait(timeout))


def raw_push(argv: Sequence[str], updates: Sequence[tuple[str, str, str]], pack: bytes = b"",
             env: Mapping[str, str] | None = None, cwd: Path | None = None) -> RawResult:
    """Push ``updates`` (``(old, new, ref)``, all-zero ids for none) and ``pack`` through ``argv``."""
    return finish(start(argv, updates, pack, env, cwd))
