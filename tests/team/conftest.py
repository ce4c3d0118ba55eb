"""Fixtures for the teammate tests: the fake Messages API server (see fake_messages_api.py)."""

from tests.team.fake_messages_api import anthropic_env, fake_api  # noqa: F401  (fixtures)
