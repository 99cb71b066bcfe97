"""Where model requests go: the configured remote endpoint, else the embedded local server.

``resolve_endpoint`` is what ``Reader`` calls: it picks the remote endpoint (with the
provider's default model and profile) or prepares the local server, which the gateway's first
request starts (``Endpoint.ready``). ``configured_url`` is the gateway's own fallback when it
is built without a resolved endpoint: the same remote URL, or a server already on
READER_LOCAL_PORT, never one it would start. ``service/llm/local.py`` runs the server process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from service.config import Settings
from service.errors import ConfigError
from service.llm.local import LOCAL_MODEL_ALIAS, LocalServer, base_url_for
from service.llm.profiles import LOCAL_PROFILE

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# The SDK refuses an empty key; the local server, Ollama and vLLM accept any.
NO_KEY = "sk-no-key"

# (substring of the base URL, profile in service.llm.profiles or None = match on the model
# name, default model or None when the user must choose)
PROVIDERS: tuple[tuple[str, str | None, str | None], ...] = (
    ("api.openai.com", None, "gpt-4o-mini"),
    ("api.deepseek.com", None, "deepseek-chat"),
    ("dashscope", None, "qwen-plus"),
    # Ollama serves many families ("qwen2.5:7b"…): its own limits, not the family's.
    (":11434", "ollama", None),
)


@dataclass(frozen=True)
class Endpoint:
    """Where the gateway sends requests; ``close()`` stops a local server this run started."""

    base_url: str
    model: str
    profile_name: str | None  # None: the gateway picks the profile by model name
    local_server: LocalServer | None = None

    async def ready(self) -> None:
        """Before the gateway's first request: start the local server if it is not running
        (nothing to do for a remote endpoint)."""
        if self.local_server is not None:
            await asyncio.to_thread(self.local_server.start)

    def close(self) -> None:
        if self.local_server is not None:
            self.local_server.stop()


def resolve_endpoint(settings: Settings) -> Endpoint:
    """The configured remote endpoint, else the local server: reused when one runs, otherwise
    prepared and started on first use (``Endpoint.ready``). Blocking: from async code use
    ``await asyncio.to_thread(resolve_endpoint, settings)``."""
    if settings.relay_url:
        return relayed_endpoint(settings)
    if not settings.uses_local_model:
        return remote_endpoint(settings)
    server = LocalServer(settings)
    url = server.prepare()
    return Endpoint(url, LOCAL_MODEL_ALIAS, LOCAL_PROFILE, server)


def remote_endpoint(settings: Settings) -> Endpoint:
    """OPENAI_BASE_URL (default api.openai.com) with READER_MODEL, else the provider's model."""
    base_url = remote_url(settings)
    profile, default_model = provider_defaults(base_url)
    model = settings.model or default_model
    if model is None:
        raise ConfigError(
            f"OPENAI_BASE_URL={base_url} has no default model; set READER_MODEL to the name "
            "of a model that endpoint serves"
        )
    return Endpoint(base_url, model, settings.profile or profile)


def relayed_endpoint(settings: Settings) -> Endpoint:
    """The relay's /v1 (``policy-reader relay``), with the model and profile of the endpoint
    it relays to: the remote one, or the embedded server (which the relay starts)."""
    assert settings.relay_url
    profile: str | None
    if settings.uses_local_model:
        model, profile = LOCAL_MODEL_ALIAS, settings.profile or LOCAL_PROFILE
    else:
        remote = remote_endpoint(settings)
        model, profile = remote.model, remote.profile_name
    return Endpoint(relay_base_url(settings.relay_url), model, profile)


def relay_base_url(relay_url: str) -> str:
    return relay_url.rstrip("/").removesuffix("/v1") + "/v1"


def remote_url(settings: Settings) -> str:
    return (settings.openai_base_url or OPENAI_DEFAULT_URL).rstrip("/")


def configured_url(settings: Settings) -> str:
    """The endpoint URL without looking for or preparing a local server: the remote one, or
    READER_LOCAL_PORT's when no endpoint is configured (the relay's, when one is set)."""
    if settings.relay_url:
        return relay_base_url(settings.relay_url)
    if not settings.uses_local_model:
        return remote_url(settings)
    if settings.local_port is None:
        raise ConfigError(
            "No model endpoint: set OPENAI_BASE_URL (+ OPENAI_API_KEY, READER_MODEL) "
            "or start the local model server and set READER_LOCAL_PORT."
        )
    return base_url_for(settings.local_port)


def api_key(settings: Settings) -> str:
    """OPENAI_API_KEY, else a placeholder for endpoints that check none."""
    return settings.openai_api_key or NO_KEY


def provider_defaults(base_url: str) -> tuple[str | None, str | None]:
    """(profile name or None, default model) for a base URL; unknown hosts have no default."""
    for marker, profile, model in PROVIDERS:
        if marker in base_url:
            return profile, model
    return None, None
