"""The pure domain: tasks, messages, requests, the roster, the rules, as data and pure operations."""
