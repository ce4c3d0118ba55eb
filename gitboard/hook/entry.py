"""The installed pre-receive hook's fast start: ``python -I -S <this file> <dir> [<server>]``.

Run as a script by the hook (``gitboard/hook/pre-receive``), isolated (``-I``: no
``PYTHON*`` variables, no user site, no script directory on ``sys.path``) and without
``site`` (``-S``): site's work, above all an editable install's import finder, is about
half of Python's start-up, and a push waits for it. ``<dir>`` is the directory holding
the ``gitboard`` package that ``gitboard hook install`` recorded; the hook's path needs
only it and the standard library.

With ``<server>`` = ``1`` (the default of ``gitboard hook install``; ``--no-server`` writes
``0``), the push is judged by the warm **hook server** (:mod:`gitboard.hook.server`): one
process per user and gitboard installation that has the rules already imported and forks
a child per push. This script then imports nothing but ``_socket``: it reads git's input,
sends it with its working directory, its environment and its stdout/stderr (passed as
file descriptors, ``SCM_RIGHTS``) over a Unix socket in Linux's abstract namespace, and
exits with the status the child sends back. Both ends check that the other runs as the
same user (``SO_PEERCRED``). When no server answers (none running yet, its code changed
on disk, it stopped mid-push, or not Linux), this process judges the push itself, as
with ``<server>`` = ``0``, and starts a server for the next push in the background.

If gitboard cannot be imported from ``<dir>`` (a package moved, or one that needs a
third-party module), this re-runs as ``python -m gitboard hook-impl pre-receive`` with
``site``, git's input handed on through a pipe.
"""

import os
import sys

#: The request's first bytes (its format's version); a server that does not know them says "S".
MAGIC = b"GBH1"


def server_name(python: str, root: str, uid: int) -> bytes:
    """The hook server's address: a name in Linux's abstract socket namespace (leading NUL),
    ``\\0gitboard-hook-<uid>-<hash>``, where ``<hash>`` is a 64-bit FNV-1a hash of the
    interpreter's and the package directory's paths (one server per user and installation)."""
    h = 0xCBF29CE484222325
    for byte in f"{python}\0{root}".encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"\0gitboard-hook-{uid}-{h:016x}".encode()


def peer_uid(sock) -> int:
    """The user id of the process at the other end of a connected Unix socket (``SO_PEERCRED``)."""
    import _socket

    cred = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(cred[4:8], sys.byteorder)


def encode_request(root: str, cwd: bytes, data: bytes, env: dict) -> bytes:
    """One request: :data:`MAGIC`, a 4-byte big-endian length, then NUL-separated fields:
    the package directory, the working directory, git's input and ``KEY=VALUE`` per
    environment variable (none of them can hold a NUL)."""
    fields = [root.encode("utf-8", "surrogateescape"), cwd, data] + [k + b"=" + v for k, v in env.items()]
    body = b"\0".join(fields)
    return MAGIC + len(body).to_bytes(4, "big") + body


def ask_server(root: str, data: bytes) -> "int | None":
    """Have the hook server judge the push; return its exit status, or None if no server
    served it (then one is started in the background for the next push)."""
    try:
        import _socket
    except ImportError:
        return None
    name = server_name(sys.executable, root, os.getuid())
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    reply = b""
    try:
        try:
            sock.connect(name)
        except OSError:
            start_server(root)
            return None
        if peer_uid(sock) != os.getuid():
            return None
        msg = encode_request(root, os.getcwdb(), data, dict(os.environb))
        fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (1, 2))
        sent = sock.sendmsg([msg[:65536]], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        while sent < len(msg):
            sent += sock.send(msg[sent:sent + 65536])
        while len(reply) < 2:
            chunk = sock.recv(2 - len(reply))
            if not chunk:
                break
            reply += chunk
    except OSError:  # the server went away mid-request (it stopped, or was killed)
        pass
    finally:
        sock.close()
    if len(reply) == 2 and reply[:1] == b"X":
        return reply[1]
    # not served: its code changed on disk ("S": it has stopped), or it went away; start a
    # fresh one for the next push (if one is running after all, the new one exits at once)
    start_server(root)
    return None


def start_server(root: str) -> None:
    """Start the hook server in the background, detached (its own session, stdio on /dev/null,
    so git does not wait for it). A second server for the same name exits at once."""
    script = os.path.join(root, "gitboard", "hook", "server.py")
    if not os.path.isfile(script):
        return
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:  # the child: a new session, then a grandchild that init adopts
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1024)
        os.chdir("/")
        os.execv(sys.executable, [sys.executable, "-I", "-S", script, root])
    finally:
        os._exit(1)


def _run_module(data: bytes) -> None:
    """Re-run as ``python -m gitboard hook-impl pre-receive`` (with site), git's input on a pipe."""
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        view = memoryview(data)
        while view:
            view = view[os.write(w, view):]
        os._exit(0)
    os.close(w)
    os.dup2(r, 0)
    os.execv(sys.executable, [sys.executable, "-m", "gitboard", "hook-impl", "pre-receive"])


def main() -> None:
    """Judge the push (through the hook server when ``sys.argv[2]`` is ``1``) and exit with its status."""
    root = sys.argv[1]
    data = sys.stdin.buffer.read()
    if sys.argv[2:3] == ["1"] and sys.platform.startswith("linux"):
        status = ask_server(root, data)
        if status is not None:
            sys.exit(status)
    sys.path.insert(0, root)
    try:
        from gitboard.store.hooks import pre_receive_main
    except ImportError:
        _run_module(data)
    sys.exit(pre_receive_main(data))


if __name__ == "__main__":
    main()
