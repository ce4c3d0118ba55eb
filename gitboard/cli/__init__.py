"""The ``gitboard`` command line: thin typer commands that parse, call the core and render.

Output for people goes through rich (imported lazily); ``--json`` prints exactly
one JSON document on stdout and keeps rich off the path.
"""
