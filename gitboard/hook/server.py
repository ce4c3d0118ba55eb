"""The warm hook server: ``python -I -S <this file> <dir>``, started by the hook (:mod:`gitboard.hook.entry`).

Most of a Python pre-receive hook's time is start-up: importing the rules, the board's
models and the standard library they use takes about 50 ms, and reading the board the
push starts from costs what the board's size does (about 100 ms at 10,000 tasks), where
judging a claim takes a few milliseconds. So the hook's first push starts this server,
and later pushes are judged by it:

- it listens on ``\\0gitboard-hook-<uid>-<hash>``, a Unix socket in Linux's abstract
  namespace (no file to go stale), one per user and gitboard installation
  (:func:`gitboard.hook.entry.server_name`); a second server for the same name cannot
  bind it and exits at once;
- it imports the hook's modules once, reads each request (git's input, the hook's working
  directory and environment, its stdout and stderr passed as file descriptors), and
  **forks a child per push**. The child takes the hook's place: its file descriptors,
  directory and environment (the quarantine's ``GIT_OBJECT_DIRECTORY``, the pusher's
  ``REMOTE_USER``...), runs :func:`gitboard.store.hooks.pre_receive_main` on git's input
  exactly as the hook would in-process, and sends back ``X`` and the exit status. Pushes
  are judged side by side, each in a process of its own;
- between pushes (after :data:`REFRESH_AFTER` seconds without one), it reads the board of
  each repository it served lately at that repository's tip, through the parse cache
  (:func:`gitboard.store.read.load_board`). A child inherits that board (copy-on-write),
  so it applies only what changed since, instead of reading the whole board. The board is
  keyed by its tree id, so a board read before a push is never mistaken for another;
  :data:`MAX_REPOSITORIES` repositories are kept, the least recent dropped;
- it serves only its own user: a connection from another uid is closed (``SO_PEERCRED``);
  the hook checks the same of the server;
- when a file of the gitboard it imported changes on disk (an upgrade, an edit), it
  answers ``S`` (not served) and exits: the hook judges that push itself and starts a
  fresh server;
- it exits after :data:`IDLE_SECONDS` without a push (``GITBOARD_HOOK_IDLE`` in the
  environment of the hook that started it overrides it).

Linux only (abstract sockets, ``SO_PEERCRED``); elsewhere the hook judges every push
itself. ``gitboard hook install --no-server`` turns the server off for a repository.
"""

import os
import sys

#: Seconds without a push after which the server exits (the next push starts another).
IDLE_SECONDS = 600.0
#: Seconds without a push before the server refreshes the boards of the repositories it served.
REFRESH_AFTER = 0.05
#: Repositories whose boards the server keeps in memory, the most recently pushed.
MAX_REPOSITORIES = 8
#: Seconds a client has to send its whole request.
REQUEST_TIMEOUT = 10.0


def _fingerprint(root: str) -> dict:
    """``path -> (inode, size, mtime in ns)`` of every imported module file under ``root/gitboard``,
    of the package's directories (a file added, removed or replaced) and of this interpreter."""
    prefix = os.path.join(root, "gitboard") + os.sep
    paths = {sys.executable}
    for directory, subdirs, _files in os.walk(prefix):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        paths.add(directory)
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if path and path.startswith(prefix):
            paths.add(path)
    return {path: _stat(path) for path in paths}


def _stat(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _changed(before: dict) -> bool:
    return any(_stat(path) != was for path, was in before.items())


def read_request(conn) -> tuple:
    """Read one request from a connected socket: ``(fields, fds)``; see
    :func:`gitboard.hook.entry.encode_request` (fields: package directory, working directory,
    git's input, then ``KEY=VALUE`` entries; fds: the hook's stdout and stderr).

    Raises:
        ValueError: a malformed request, or one of another format version.
        OSError: the connection failed or timed out.
    """
    import socket

    from gitboard.hook.entry import MAGIC

    data, ancillary, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(2 * 4))
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, len(payload) - len(payload) % 4, 4)]
    try:
        size = None
        while size is None or len(data) < 8 + size:
            if size is None and len(data) >= 8:
                if data[:4] != MAGIC:
                    raise ValueError("not a request this server knows")
                size = int.from_bytes(data[4:8], "big")
                continue
            chunk = conn.recv(65536)
            if not chunk:
                raise ValueError("short request")
            data += chunk
        fields = data[8:8 + size].split(b"\0")
        if len(fds) != 2 or len(fields) < 3:
            raise ValueError("a request without its file descriptors")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fields, fds


def _judge(conn, fields: list, fds: list) -> None:
    """In the forked child: take the hook's place, judge the push, send ``X<status>``, exit."""
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    status = 1
    try:
        os.chdir(fields[1])
        env = {}
        for entry in fields[3:]:
            key, sep, value = entry.partition(b"=")
            if sep and key:
                env[key] = value
        os.environb.clear()
        os.environb.update(env)
        from gitboard.store.hooks import pre_receive_main

        status = pre_receive_main(fields[2])
    except BaseException as e:  # never a traceback into the push: one line, and refuse
        sys.stderr.write(f"gitboard: error: internal error in the hook server: {type(e).__name__}: {e} "
                         f"(push refused)\n")
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(b"X" + bytes([status & 0xFF]))
        finally:
            os._exit(0)


def _refresh(path: str) -> str | None:
    """Read the board of the repository at ``path`` at its tip into this process's parse cache;
    return its common git directory (None if it has no board or cannot be read)."""
    from gitboard.board.errors import BoardError
    from gitboard.store.read import load_board
    from gitboard.store.repo import BoardRepo

    try:
        with BoardRepo(path) as repo:
            tip = repo.tip()
            if tip is not None:
                load_board(repo, tip)
                repo.cache.save()
            return repo.common_dir
    except (BoardError, OSError):
        return None
    except Exception:  # a bug here must not take the server down: the child reads what it needs
        return None


def _reap(children: set) -> None:
    """Collect the judging children that have exited (SIGCHLD keeps its default, so that the
    git commands this process runs itself report their real exit status)."""
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def serve_forever(root: str) -> int:
    """Bind the server's name, import the hook, and serve pushes until idle or stale; return 0.

    Returns at once (0) if another server holds the name.
    """
    import select
    import socket
    import time

    sys.path.insert(0, root)
    from gitboard.hook.entry import peer_uid, server_name

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(server_name(sys.executable, root, os.getuid()))
    except OSError:
        return 0  # another server has it
    sock.listen(64)
    try:
        idle = float(os.environ.get("GITBOARD_HOOK_IDLE", IDLE_SECONDS))
    except ValueError:
        idle = IDLE_SECONDS
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]  # the first hook's quarantine is not this process's business
    # everything a push needs, imported once; the children share it copy-on-write
    import hashlib  # noqa: F401  (blob ids)
    import subprocess  # noqa: F401  (git, run_legacy)

    import gitboard.store.hooks  # noqa: F401
    import gitboard.store.receive  # noqa: F401
    from gitboard.store import cache as cache_mod

    before = _fingerprint(root)
    os.chdir("/")
    uid = os.getuid()
    last = time.monotonic()
    pending: dict[str, None] = {}  # repositories pushed to since the last refresh
    kept: dict[str, str] = {}  # repository path -> its common dir, least recently pushed first
    children: set[int] = set()
    while True:
        _reap(children)
        if pending:
            wait = REFRESH_AFTER
        else:
            wait = max(0.0, idle - (time.monotonic() - last))
            if children:
                wait = min(wait, 1.0)
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            if not pending:
                if children or time.monotonic() - last < idle:
                    continue
                break  # idle
            for path in pending:
                common = _refresh(path)
                kept.pop(path, None)
                if common is not None:
                    kept[path] = common
            pending.clear()
            while len(kept) > MAX_REPOSITORIES:
                path = next(iter(kept))
                cache_mod.forget(os.path.join(kept.pop(path), "gitboard", "cache"))
            continue
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        last = time.monotonic()
        try:
            if peer_uid(conn) != uid:
                continue
            conn.settimeout(REQUEST_TIMEOUT)
            try:  # read the request whole first: a socket closed with unread data resets the connection
                fields, fds = read_request(conn)
            except (OSError, ValueError):
                conn.sendall(b"S")
                continue
            try:
                if _changed(before):
                    sock.close()  # free the name first, so the fresh server the hook starts can bind it
                    conn.sendall(b"S")
                    return 0
                if os.fsdecode(fields[0]) != root:
                    conn.sendall(b"S")
                else:
                    pid = os.fork()
                    if pid == 0:
                        sock.close()
                        _judge(conn, fields, fds)
                    children.add(pid)
                    pending[os.fsdecode(fields[1])] = None
            finally:  # the child has its own copies: the hook's stdout and stderr are not this process's
                for fd in fds:
                    os.close(fd)
        except OSError:
            pass
        finally:
            conn.close()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve_forever(sys.argv[1]))
