"""Compatibility names for code written against the package layout before the redesign
(gitboard-move: keep).

``gitboard.team`` held the teammate runtime, the agents, the model conversation, the lead and
the merge queue; they are now :mod:`gitboard.runtime`, :mod:`gitboard.agents`,
:mod:`gitboard.llm`, :mod:`gitboard.lead` and :mod:`gitboard.merge_queue`. Only
``gitboard.team.refinery`` is kept, for scripts that run the merge queue with
``gitboard.team.refinery.run_queue``; everything else is imported from its new place.
"""
