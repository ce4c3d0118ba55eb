"""The teammate runtime: the WORK/IDLE loop, task worktrees, the harness, processes and logs."""
