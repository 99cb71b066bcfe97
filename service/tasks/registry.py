"""Every artifact kind the Reader computes, in one table: the function that computes it, the
prompt tasks it calls with the strategies each implements, and the output schemas its prompt
files may name.

Adding a task is adding a row here (and its prompt files). The prompt catalog built from the
table is handed to the prompt registry explicitly (``PromptRegistry.load(..., catalog=)``,
``Gateway(..., catalog=)``), which checks every file's task, strategy and schema against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from service.artifacts import Artifact, ArtifactKind
from service.checks import repairs
from service.errors import ConfigError
from service.llm.prompts import PromptCatalog
from service.models import Chunk, Document
from service.tasks import translate
from service.tasks.commitments import english, extract, names, tiers
from service.tasks.commitments.schema import ExtractionOutput
from service.tasks.commitments.task import commitments
from service.tasks.context import TaskContext
from service.tasks.strategies import (
    CHUNK_JSON,
    MAP_REDUCE,
    PER_UNIT,
    RULES_EN,
    SECTIONS,
    SINGLE,
)
from service.tasks.summary import summarize
from service.tasks.summary.run import MAP, REDUCE
from service.tasks.summary.run import TASK as SUMMARY
from service.tasks.summary.schema import ChunkNotes, SummaryOut

TaskFn = Callable[[Document, list[Chunk], TaskContext], Awaitable[Artifact]]


@dataclass(frozen=True)
class TaskSpec:
    """One artifact kind and what its prompt files may declare."""

    run: TaskFn
    # prompt task -> the strategies it implements; the first is the default (the one a
    # profile gets unless it names another in ``Profile.strategies``)
    strategies: Mapping[str, tuple[str, ...]]
    schemas: Mapping[str, type[BaseModel]]  # a prompt file's ``schema`` -> the output model
    repaired: bool = False  # its output goes through the deterministic repairs (checks.repairs)
    # What else its output depends on, as a version (the commitments tiers decide which get a
    # model call): part of the artifact's variant, so a stored artifact is redone when it moves.
    revision: str | None = None

    @property
    def prompts(self) -> tuple[str, ...]:
        """The prompt tasks it calls: their versions are part of the artifact's variant."""
        return tuple(self.strategies)


TASKS: dict[ArtifactKind, TaskSpec] = {
    "summary": TaskSpec(
        summarize,
        {SUMMARY: (SINGLE, SECTIONS), MAP: (MAP_REDUCE,), REDUCE: (MAP_REDUCE,)},
        {"summary": SummaryOut, "summary_notes": ChunkNotes},
    ),
    "translation": TaskSpec(
        translate.translate,
        {translate.TASK: (CHUNK_JSON, PER_UNIT)},
        {translate.SCHEMA_NAME: translate.TranslatedChunk},
        repaired=True,
    ),
    "commitments": TaskSpec(
        commitments,
        {
            extract.TASK: (CHUNK_JSON, RULES_EN),
            extract.RECALL_TASK: (CHUNK_JSON,),
            names.NAME_TASK: (RULES_EN,),
        },
        {"ExtractionOutput": ExtractionOutput},
        revision=f"{tiers.VERSION}.{english.VERSION}",
    ),
}


def task_function(kind: ArtifactKind) -> TaskFn:
    return TASKS[kind].run


def prompt_tasks(kind: ArtifactKind) -> tuple[str, ...]:
    """The prompt tasks ``kind`` calls, in the order its tasks run them."""
    return TASKS[kind].prompts


# Strategies whose output is made from another artifact kind's: the summary of the English
# translation (``sections``) is stale when the translation would change.
READS: dict[str, ArtifactKind] = {SECTIONS: "translation"}


def reads(strategy: str) -> ArtifactKind | None:
    """The artifact kind a strategy builds on (its variant is part of the reader's), if any."""
    return READS.get(strategy)


def checks_version(kind: ArtifactKind) -> str | None:
    """The version of the repairs ``kind``'s output goes through (part of its variant), if any."""
    return repairs.VERSION if TASKS[kind].repaired else None


def revision(kind: ArtifactKind) -> str | None:
    """The version of what else ``kind``'s output depends on (part of its variant), if any."""
    return TASKS[kind].revision


def catalog(specs: Iterable[TaskSpec]) -> PromptCatalog:
    """The schemas and strategies of ``specs`` as one table; a name may mean only one thing."""
    schemas: dict[str, type[BaseModel]] = {}
    strategies: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        for name, model in spec.schemas.items():
            if schemas.setdefault(name, model) is not model:
                raise ConfigError(f"Schema name {name!r} names two models.")
        for task, allowed in spec.strategies.items():
            if strategies.setdefault(task, allowed) != allowed:
                raise ConfigError(f"Prompt task {task!r} belongs to two artifact kinds.")
    defaults = {task: allowed[0] for task, allowed in strategies.items() if allowed}
    return PromptCatalog(schemas, strategies, defaults)


CATALOG = catalog(TASKS.values())
