"""The Messages API conversation: compaction, accounting, pricing, models, prompts and tools."""
