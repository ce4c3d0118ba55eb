"""gitboard's MCP server (``gitboard mcp``): the board's tools for any agent that speaks MCP.

- :mod:`gitboard.mcp.catalog` -- the tools' names and one-line descriptions, and which are the
  lead's (no SDK import: the teammate runtime and prompts use it);
- :mod:`gitboard.mcp.tools` -- what each tool does, over :class:`gitboard.client.BoardClient`
  (no SDK import);
- :mod:`gitboard.mcp.server` -- the MCP server on the stdio transport, built on the official
  ``mcp`` SDK (``mcp.server.mcpserver.MCPServer``), imported only when ``gitboard mcp`` runs;
- :mod:`gitboard.mcp.config` -- wiring the server into agent CLIs (Claude Code's
  ``--mcp-config``, Codex's ``mcp_servers``) for teammates, and reading what a runtime-wired
  server reported (no SDK import).

:mod:`gitboard.mcp.catalog` and :mod:`gitboard.mcp.config` import nothing of the runtime
(the runtime imports them); the server and its tools sit above the board client, the runtime
and the merge queue, as the command line does.

Modules here import the SDK by its absolute name (``import mcp``); this package is
``gitboard.mcp``, never plain ``mcp``.
"""
