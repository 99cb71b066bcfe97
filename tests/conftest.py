"""Shared fixtures: every test gets its own settings, cache dir and database in tmp_path."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import ROOT, Settings, get_settings
from service.llm.embedded import DEFAULT_MODEL, assemble

CORPUS = ROOT / "corpus"
SEEDS = sorted(CORPUS.glob("0*.txt"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "DATABASE_URL", "READER_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("READER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


def default_model_installed() -> bool:
    """The part packages of the default embedded model are importable (the `local` extra)."""
    return all(importlib.util.find_spec(part.module) is not None for part in DEFAULT_MODEL.parts)


@pytest.fixture(scope="session")
def packaged_model() -> Path:
    """The default embedded model's GGUF, assembled once per machine outside any test's cache
    (later sessions trust its sha256 sidecar); for READER_LOCAL_MODEL_PATH."""
    if not default_model_installed():
        pytest.skip(f"the part packages of {DEFAULT_MODEL.title} are not installed ('.[local]')")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return assemble(DEFAULT_MODEL, cache / "policy-reader-tests" / "models")
