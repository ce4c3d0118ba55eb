"""A gitolite server of the test's own, reached over ssh with real per-user keys, on loopback.

Debian's ``gitolite3`` (``/usr/bin/gitolite``, ``/usr/share/gitolite3``) and ``openssh-server``
(``/usr/sbin/sshd``) with ``openssh-client``: :func:`missing` names what is not installed, and
the tests skip saying so. Everything lives in one temporary directory:

- a gitolite home (``HOME`` for gitolite only: ``.gitolite.rc``, ``.gitolite/``, ``repositories/``)
  made by ``gitolite setup``, with the ``repo-specific-hooks`` feature on and ``LOCAL_CODE`` in it;
- one ed25519 key per user; an ``authorized_keys`` of our own whose forced command runs
  ``gitolite-shell <user>`` with that home (gitolite's own file would use the login's real home);
- an ``sshd`` of our own (own host key, own config, a free port on 127.0.0.1), run as the current
  user: every user logs in as that account, and the key says who it is (gitolite's ``GL_USER``).

Each repository's ``option hook.pre-receive = gitboard`` runs ``local/hooks/repo-specific/gitboard``:
gitboard's hook (as ``gitboard hook install`` renders it) behind a gate, ``gate-marker`` (a file in
the site): a push whose input names the marker is judged, touches ``judged``, then waits for ``gate``
before git moves any ref -- how a test holds one push while another lands.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
GITOLITE_SHELL = "/usr/share/gitolite3/gitolite-shell"


def missing() -> str | None:
    """Why a gitolite site cannot be run here (the Debian package to install), or None."""
    if shutil.which("gitolite") is None or not os.path.exists(GITOLITE_SHELL):
        return "gitolite3 is not installed (apt-get install gitolite3)"
    if not os.access(SSHD, os.X_OK):
        return "sshd is not installed (apt-get install openssh-server)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the ssh client is not installed (apt-get install openssh-client)"
    return None


def privsep_dir() -> None:
    """sshd run as root needs its privilege-separation directory, ``/run/sshd``, which the
    ssh service makes at boot; make it (empty, 0755) where no service ever ran."""
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GitoliteSite:
    """The running site: :meth:`url` and :meth:`ssh_env` reach it as a user; :meth:`ssh_argv` runs a
    command there (a raw ``git-receive-pack``); :meth:`stop` ends sshd."""

    def __init__(self, root: Path, users: list[str], repos: dict[str, dict[str, str]], hook: str) -> None:
        self.root, self.home = root, root / "gl"
        self.home.mkdir(parents=True)
        self.login = pwd.getpwuid(os.getuid()).pw_name
        self.keys = root / "keys"
        self.keys.mkdir()
        for user in ["admin", *users]:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user, "-f", str(self.keys / user)],
                           check=True)
        self.env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_AUTHOR_NAME": "gitolite", "GIT_AUTHOR_EMAIL": "gitolite@example.invalid",
                    "GIT_COMMITTER_NAME": "gitolite", "GIT_COMMITTER_EMAIL": "gitolite@example.invalid"}
        (self.home / ".gitconfig").write_text("")
        self._gitolite("setup", "-pk", str(self.keys / "admin.pub"))
        rc = self.home / ".gitolite.rc"
        text = rc.read_text()
        text = text.replace('# LOCAL_CODE                =>  "$ENV{HOME}/local",',
                            'LOCAL_CODE                =>  "$ENV{HOME}/local",', 1)
        text = text.replace("# 'repo-specific-hooks',", "'repo-specific-hooks',", 1)
        assert "\n        LOCAL_CODE" in text and "\n            'repo-specific-hooks'," in text, "unexpected gitolite.rc"
        rc.write_text(text)
        hooks = self.home / "local" / "hooks" / "repo-specific"
        hooks.mkdir(parents=True)
        (hooks / "gitboard.real").write_text(hook)
        (hooks / "gitboard.real").chmod(0o755)
        self.marker, self.judged, self.gate = root / "gate-marker", root / "judged", root / "gate"
        (hooks / "gitboard").write_text(
            "#!/bin/sh\ninput=$(cat)\n"
            f"printf '%s\\n' \"$input\" | '{hooks / 'gitboard.real'}'\nstatus=$?\n"
            f"if [ -s '{self.marker}' ] && printf '%s' \"$input\" | grep -q -F -f '{self.marker}'; then\n"
            f"  touch '{self.judged}'; while [ ! -e '{self.gate}' ]; do sleep 0.05; done\nfi\n"
            "exit $status\n")
        (hooks / "gitboard").chmod(0o755)
        conf = ["repo gitolite-admin", "    RW+ = admin"]
        for name, rules in repos.items():
            conf.append(f"repo {name}")
            conf += [f"    {perm:<4}= {who}" for perm, who in rules.items()]
            conf.append("    option hook.pre-receive = gitboard")
        (self.home / ".gitolite" / "conf" / "gitolite.conf").write_text("\n".join(conf) + "\n")
        self._gitolite("setup")
        # our own authorized_keys: gitolite's forced command, with gitolite's home
        shell_env = " ".join(f"{k}={v}" for k, v in self.env.items() if not k.startswith("GIT_AUTHOR")
                             and not k.startswith("GIT_COMMITTER"))
        lines = [f'command="env {shell_env} {GITOLITE_SHELL} {user}",no-port-forwarding,no-X11-forwarding,'
                 f'no-agent-forwarding,no-pty {(self.keys / f"{user}.pub").read_text().strip()}' for user in users]
        (root / "authorized_keys").write_text("\n".join(lines) + "\n")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")], check=True)
        privsep_dir()
        self.port = free_port()
        (root / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}", f"PidFile {root / 'sshd.pid'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no", "PrintMotd no",
            f"AllowUsers {self.login}", "MaxStartups 50", "LogLevel ERROR"]) + "\n")
        self.sshd = subprocess.Popen([SSHD, "-D", "-f", str(root / "sshd_config"), "-E", str(root / "sshd.log")])
        end = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.sshd.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"sshd did not start: {(root / 'sshd.log').read_text(errors='replace')}")
                time.sleep(0.05)

    def _gitolite(self, *args: str) -> None:
        p = subprocess.run(["gitolite", *args], env=self.env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr

    def repo(self, name: str) -> Path:
        """The bare repository of ``name`` on the server."""
        return self.home / "repositories" / f"{name}.git"

    def ssh_command(self, user: str) -> str:
        """The ``GIT_SSH_COMMAND`` that logs in with ``user``'s key."""
        return (f"ssh -F /dev/null -i {self.keys / user} -o IdentitiesOnly=yes -o BatchMode=yes "
                f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")

    def ssh_env(self, user: str) -> dict:
        """The environment for git commands that reach the site as ``user``."""
        return {**os.environ, "GIT_SSH_COMMAND": self.ssh_command(user)}

    def ssh_argv(self, user: str, command: str) -> list[str]:
        """argv that runs ``command`` on the site as ``user`` (gitolite's forced command sees it)."""
        return [*self.ssh_command(user).split(), "-p", str(self.port), f"{self.login}@127.0.0.1", command]

    def url(self, name: str) -> str:
        return f"ssh://{self.login}@127.0.0.1:{self.port}/{name}"

    def hold(self, marker: str) -> None:
        """Hold the next push whose input names ``marker`` after it is judged (see the module docstring)."""
        for f in (self.judged, self.gate):
            f.unlink(missing_ok=True)
        self.marker.write_text(marker + "\n")

    def release(self) -> None:
        self.gate.touch()

    def stop(self) -> None:
        self.sshd.terminate()
        try:
            self.sshd.wait(10)
        except subprocess.TimeoutExpired:
            self.sshd.kill()


def hook_script() -> str:
    """gitboard's pre-receive hook as ``gitboard hook install`` writes it, for this interpreter."""
    from gitboard.store.hooks import render

    return render(sys.executable)
