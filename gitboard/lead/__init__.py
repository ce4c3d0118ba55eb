"""The model-driven lead: its session, tools, saved conversations and its face on the board."""
