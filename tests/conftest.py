"""Shared fixtures: every test gets its own settings, cache dir and database in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import ROOT, Settings, get_settings

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
