"""The commitments task: the active ``commitments`` prompt's strategy picks the algorithm.

- ``chunk_json`` (the default): per-chunk structured extraction with a rule recall pass
  (``extract.py``), for capable endpoints.
- ``rules_en``: the rule detector finds and grounds the commitments, one short plain-text call
  per concrete one renders it in English (``english.py``), for a small chat model; a profile
  asks for it with ``strategies={"commitments": "rules_en"}``.
"""

from __future__ import annotations

from service.artifacts import CommitmentsArtifact
from service.models import Chunk, Document
from service.tasks.commitments.english import render_commitments
from service.tasks.commitments.extract import TASK, extract_commitments
from service.tasks.context import TaskContext
from service.tasks.strategies import RULES_EN


async def commitments(doc: Document, chunks: list[Chunk], ctx: TaskContext) -> CommitmentsArtifact:
    """The commitments of ``doc`` as the active prompt's strategy says (see the module doc)."""
    gateway = ctx.gateway
    template = gateway.registry.get(TASK, gateway.profile.mode, ctx.versions.get(TASK))
    if template.strategy == RULES_EN:
        return await render_commitments(doc, chunks, ctx)
    return await extract_commitments(doc, chunks, ctx)
