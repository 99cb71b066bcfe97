"""The algorithms a prompt file selects with its front-matter ``strategy``, by name.

Each prompt task allows some of them (``service.tasks.registry``, checked when the prompt
files load); a task dispatches on the active template's strategy, never on its shape.
"""

from __future__ import annotations

# translate, commitments, commitments_recall: one structured (JSON) call per chunk.
CHUNK_JSON = "chunk_json"
# commitments: the rule detector finds and grounds them; one plain-text call per concrete one
# renders it in English, for a small chat model.
RULES_EN = "rules_en"
# translate: one plain-text call per paragraph (or piece of one), for a small instruct model.
PER_UNIT = "per_unit"
# summary: the whole document in one structured call (map_reduce when it does not fit).
SINGLE = "single"
# summary_map, summary_reduce: structured notes per chunk, combined by a reduce call.
MAP_REDUCE = "map_reduce"
# summary: the document's English translation (the translate task) summarised in labelled
# plain-text sections, parsed deterministically; for a small instruct model.
SECTIONS = "sections"
