"""Fixtures of these tests: the fake Messages API server (see tests/helpers/fake_messages_api.py)."""

from tests.helpers.fake_messages_api import anthropic_env, fake_api  # noqa: F401  (fixtures)
