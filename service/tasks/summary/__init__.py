"""Summary task: an English headline, 3-sentence abstract, key points and who/when/where.

The active ``summary`` prompt's strategy decides the algorithm:

- ``single``: when the whole document fits the model's context (the rendered prompt plus the
  expected output, counted with cl100k, with a safety margin), one structured call;
  otherwise ``map_reduce`` over the chunks (``map_reduce.py``, with the ``summary_map`` and
  ``summary_reduce`` prompts).
- ``sections``: the translation task first, then the English summarised in labelled plain
  text (``sections.py``, format and checks in ``sectioned.py``), for a small instruct model.

The output models are in ``schema.py``; one run's budgets and calls in ``run.py``; the artifact
is assembled in ``result.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.artifacts import ChunkOutcome, SummaryArtifact
from service.errors import ModelError
from service.llm.prompts import delimit
from service.models import Chunk, Document
from service.tasks.context import TaskContext
from service.tasks.strategies import SECTIONS
from service.tasks.summary.map_reduce import summarize_map_reduce
from service.tasks.summary.result import artifact, to_summary
from service.tasks.summary.run import SUMMARY_OUTPUT, TASK, SummaryRun, meta_variables
from service.tasks.summary.sections import summarize_sections

__all__ = ["summarize"]


async def summarize(doc: Document, chunks: list[Chunk], ctx: TaskContext) -> SummaryArtifact:
    """Summarise ``doc`` as the active summary prompt's strategy says (see the module doc)."""
    run = SummaryRun(doc, ctx, meta_variables(doc))
    strategy = run.template(TASK).strategy
    if strategy == SECTIONS:
        return await summarize_sections(run, chunks)
    whole = {"document": delimit(doc.text), "glossary": run.glossary(doc.text)}
    if run.room(TASK, {**run.meta, **whole}, run.output(SUMMARY_OUTPUT)) >= 0:
        return await _single(run, whole)
    return await summarize_map_reduce(run, chunks)


async def _single(run: SummaryRun, variables: Mapping[str, object]) -> SummaryArtifact:
    try:
        parsed = await run.call(TASK, variables, run.output(SUMMARY_OUTPUT))
    except ModelError as exc:
        outcome = ChunkOutcome(chunk_id="document", status="failed", error=exc.message)
        return artifact(run, None, "single", [outcome], [])
    outcome = ChunkOutcome(chunk_id="document", status="ok")
    return artifact(run, to_summary(parsed), "single", [outcome], [])
