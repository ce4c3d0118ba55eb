"""The web board (``gitboard serve``): Starlette on uvicorn, server-rendered Jinja2 pages.

Imported only by ``gitboard serve`` (and tests): no board command imports it, so the web
stack (starlette, uvicorn, jinja2) never loads on a board command's path. Every read and
write goes through :class:`gitboard.client.BoardClient`; see :mod:`gitboard.web.app` for
the pages and actions, :mod:`gitboard.web.security` for the token, CSRF and host checks,
:mod:`gitboard.web.server` for running it.
"""
