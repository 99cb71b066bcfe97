"""Endpoint resolution: remote vs embedded, provider defaults, the key the gateway sends."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.errors import ConfigError
from service.llm.endpoint import NO_KEY, api_key, configured_url, resolve_endpoint
from service.llm.gateway import Gateway
from service.llm.prompts import PromptRegistry
from service.store import Store

# --- remote endpoints -----------------------------------------------------------------------


def test_only_a_key_means_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    endpoint = resolve_endpoint(Settings())
    assert endpoint.base_url == "https://api.openai.com/v1"
    assert (endpoint.model, endpoint.profile_name) == ("gpt-4o-mini", None)
    assert api_key(Settings()) == "sk-test" and endpoint.local_server is None


def test_known_provider_default_model_and_explicit_model_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.deepseek.com/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ds")
    endpoint = resolve_endpoint(Settings())
    assert (endpoint.base_url, endpoint.model) == ("https://api.deepseek.com/v1", "deepseek-chat")
    monkeypatch.setenv("READER_MODEL", "deepseek-reasoner")
    assert resolve_endpoint(Settings()).model == "deepseek-reasoner"


def test_unknown_endpoint_without_model_asks_for_reader_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    with pytest.raises(ConfigError, match="set READER_MODEL"):
        resolve_endpoint(Settings())
    monkeypatch.setenv("READER_MODEL", "qwen2.5:7b-instruct")
    endpoint = resolve_endpoint(Settings())
    assert endpoint.profile_name == "ollama"
    assert api_key(Settings()) == NO_KEY == "sk-no-key"  # Ollama takes any key, the SDK wants one


def test_an_explicit_profile_beats_the_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("READER_MODEL", "qwen2.5:7b-instruct")
    monkeypatch.setenv("READER_PROFILE", "generic")
    assert resolve_endpoint(Settings()).profile_name == "generic"


# --- without a resolved endpoint (a gateway built from settings alone) ------------------------


def test_configured_url_is_the_resolved_remote_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert configured_url(Settings()) == resolve_endpoint(Settings()).base_url
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.deepseek.com/v1/")
    assert configured_url(Settings()) == "https://api.deepseek.com/v1"


def test_configured_url_without_endpoint_needs_the_local_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="READER_LOCAL_PORT"):
        configured_url(Settings())
    monkeypatch.setenv("READER_LOCAL_PORT", "8123")
    assert configured_url(Settings()) == "http://127.0.0.1:8123/v1"
    assert api_key(Settings()) == NO_KEY


async def test_the_gateway_sends_to_the_configured_url_with_the_key(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.deepseek.com/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ds")
    monkeypatch.setenv("READER_MODEL", "deepseek-chat")
    gateway = Gateway(Settings(), Store(settings.db_url), registry=PromptRegistry())
    try:
        assert str(gateway.client.base_url) == "https://api.deepseek.com/v1/"
        assert gateway.client.api_key == "sk-ds"
    finally:
        await gateway.aclose()
