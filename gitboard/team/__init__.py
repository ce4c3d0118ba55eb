"""The teammate runtime: the WORK/IDLE loop, task worktrees, and the agents that do the work."""
