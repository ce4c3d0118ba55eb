"""The only path to the board's refs: git plumbing, reads, transactions, verify, the pre-receive judge."""
