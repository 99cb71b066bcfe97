"""The task registry: one row per artifact kind, and the prompt catalog built from it."""

from __future__ import annotations

import pytest

from service.artifacts import KINDS
from service.config import ROOT
from service.errors import ConfigError
from service.llm.prompts import PromptRegistry
from service.tasks.registry import CATALOG, TASKS, TaskSpec, catalog, prompt_tasks
from service.tasks.summary.schema import SummaryOut
from service.tasks.translate import SCHEMA_NAME


def test_every_kind_has_its_function_and_prompt_tasks() -> None:
    assert set(TASKS) == set(KINDS)
    assert prompt_tasks("summary") == ("summary", "summary_map", "summary_reduce")
    assert prompt_tasks("translation") == ("translate",)
    assert prompt_tasks("commitments") == ("commitments", "commitments_recall")


def test_the_shipped_prompts_declare_exactly_the_strategies_the_tasks_implement() -> None:
    registry = PromptRegistry.load(ROOT / "prompts", catalog=CATALOG)  # every file checks out
    declared = {(t.task, t.strategy) for t in registry.templates.values()}
    implemented = {(task, s) for task, allowed in CATALOG.strategies.items() for s in allowed}
    assert declared == implemented
    named = {t.schema for t in registry.templates.values()} - {None}
    assert named == set(CATALOG.schemas)


def test_a_schema_or_prompt_task_name_means_one_thing() -> None:
    spec = TASKS["translation"]
    clash = TaskSpec(spec.run, {"other": ("x",)}, {SCHEMA_NAME: SummaryOut})
    with pytest.raises(ConfigError, match=f"{SCHEMA_NAME!r} names two models"):
        catalog([spec, clash])
    shared = TaskSpec(spec.run, {"translate": ("x",)}, {})
    with pytest.raises(ConfigError, match="'translate' belongs to two artifact kinds"):
        catalog([spec, shared])
    assert catalog([spec, spec]) == catalog([spec])  # the same row twice is no clash
