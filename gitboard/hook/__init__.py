"""The pre-receive hook's fast path: its entry script, the warm hook server and the template (install and the judge are gitboard.store.hooks)."""
