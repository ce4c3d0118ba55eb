"""Compatibility names for :mod:`gitboard.proc`, which holds this machine's view of processes
(host name, liveness, identity, ending a process group). Import from :mod:`gitboard.proc`."""

__all__ = ["end_process_group", "is_teammate_argv", "pid_alive", "process_argv", "process_start", "teammate_alive",
           "this_host"]

from gitboard.proc import (end_process_group, is_teammate_argv, pid_alive, process_argv, process_start,  # noqa: F401
                           teammate_alive, this_host)
