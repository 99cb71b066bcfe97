"""The task registry: one row per artifact kind, and the prompt catalog built from it."""

from __future__ import annotations

import pytest

from service.artifacts import KINDS
from service.config import ROOT
from service.errors import ConfigError
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.llm.prompts import PromptCatalog, PromptRegistry
from service.tasks.registry import CATALOG, TASKS, TaskSpec, catalog, prompt_tasks
from service.tasks.summary.schema import SummaryOut
from service.tasks.translate import SCHEMA_NAME


def test_every_kind_has_its_function_and_prompt_tasks() -> None:
    assert set(TASKS) == set(KINDS)
    assert prompt_tasks("summary") == ("summary", "summary_map", "summary_reduce")
    assert prompt_tasks("translation") == ("translate",)
    assert prompt_tasks("commitments") == ("commitments", "commitments_recall", "entity_name")


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


def shipped_defaults(profile: str) -> dict[tuple[str, str], str]:
    """(task, version) of every default prompt file the named profile gets."""
    wanted = PROFILES[profile].wanted
    registry = PromptRegistry.load(ROOT / "prompts", catalog=CATALOG, wanted=wanted)
    mode = PROFILES[profile].mode
    found = {t.task: registry.get(t.task, mode) for t in registry.templates.values()}
    return {(task, t.version): t.strategy for task, t in found.items()}


def test_the_newer_chat_prompts_do_not_become_every_chat_models_default() -> None:
    assert CATALOG.defaults["translate"] == "chunk_json"  # the first strategy listed
    for name in ("gpt-4o-mini", "ollama", "generic", "qwen-plus"):
        defaults = shipped_defaults(name)
        assert defaults[("translate", "v1")] == "chunk_json", name
        assert defaults[("summary", "v1")] == "single", name
        assert defaults[("commitments", "v1")] == "chunk_json", name
    # The embedded default (a chat model) gets the plain-text strategies it names (v2 each).
    assert PROFILES[LOCAL_PROFILE].mode == "chat"
    local = shipped_defaults(LOCAL_PROFILE)
    assert local[("translate", "v2")] == "per_unit" and local[("summary", "v2")] == "sections"
    assert local[("commitments", "v2")] == "rules_en"


def test_without_a_default_strategy_the_highest_version_is_the_default() -> None:
    bare = PromptCatalog(CATALOG.schemas, CATALOG.strategies)  # no defaults
    registry = PromptRegistry.load(ROOT / "prompts", catalog=bare)
    assert registry.get("translate", "chat").version == "v2"
