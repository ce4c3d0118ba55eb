"""The agent kinds behind one protocol (base.py), their registry, presets and output readers."""
