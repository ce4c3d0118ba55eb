"""The merge queue: approved tasks into the base branch, one checked merge at a time."""
