"""Model profiles: what each model family supports and costs, as one table of dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from service.errors import ConfigError
from service.llm.embedded import DEFAULT_MODEL, QWEN_CODER_1_5B

# How requests are made: chat messages to /chat/completions (the one mode; it names the prompt
# files, ``v<N>.chat.md``, and is part of every call-cache key).
Mode = Literal["chat"]
StructuredVia = Literal["json_schema", "json_object"]


@dataclass(frozen=True)
class Profile:
    name: str
    context_window: int
    mode: Mode = "chat"
    structured: StructuredVia = "json_object"
    price_in: float = 0.0  # USD per 1M input tokens
    price_out: float = 0.0  # USD per 1M output tokens
    batch_discount: float = 0.0  # fraction off with the provider's Batch API
    max_output_tokens: int = 4096
    chunk_budget: int = 1500  # tokens of source text per chunk
    match: tuple[str, ...] = ()  # model-name prefixes that select this profile
    # Known too weak to trust unassisted: outputs carry a warning, rule-found commitments
    # the model missed are shown (marked rule-derived) instead of being dropped.
    weak: bool = False
    # Per-request timeout when READER_TIMEOUT_S is not set: a CPU model needs minutes, and a
    # timed-out request keeps a single-slot local server busy while its retry queues behind it.
    timeout_s: float | None = None
    # Server-specific sampling params a prompt file may set; sent in the request body via the
    # SDK's extra_body (llama.cpp's server defaults repeat_penalty to 1.1, which discourages
    # copying the source's digits). Other profiles never send them.
    extra_params: tuple[str, ...] = ()
    # Requests the endpoint can work on at once (None: READER_CONCURRENCY decides). A llama.cpp
    # server with one slot answers one at a time; more in flight only queue there, where their
    # timeout runs while they wait.
    max_concurrency: int | None = None
    # Shown at the top of every artifact this profile produced (provenance), when it is weak.
    warning: str | None = None
    # Answers are reproducible (temperature 0 on a local llama.cpp server on CPU): a unit that
    # failed its checks fails again, so a re-run reuses a stored partial or failed artifact
    # instead of asking again (``run --force TASK`` retries). Remote providers are retried.
    deterministic: bool = False
    # The prompt strategy this model needs per prompt task, e.g. {"translate": "per_unit"} for a
    # chat model that cannot keep JSON chunks: the default prompt version is then the highest
    # of this mode declaring it. Unnamed tasks take the highest version declaring the task's
    # default strategy (the first listed in service/tasks/registry.py).
    strategies: Mapping[str, str] = field(default_factory=dict)

    @property
    def wanted(self) -> dict[tuple[str, Mode], str]:
        """``strategies`` keyed as the prompt registry wants them: (task, this mode)."""
        return {(task, self.mode): strategy for task, strategy in self.strategies.items()}

    @property
    def supports_json_schema(self) -> bool:
        """Strict ``response_format: json_schema`` is accepted by the endpoint."""
        return self.structured == "json_schema"

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """Estimated USD for one call; provider-side cached input is billed as full input."""
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1_000_000


# The default embedded model (service/llm/embedded.py): its profile, and the model name the
# gateway sends when none is configured. One name everywhere: the server's --model_alias, the
# model the gateway sends and records (cache keys, provenance), and what a dry run shows.
LOCAL_PROFILE = DEFAULT_MODEL.profile
LOCAL_MODEL_NAME = DEFAULT_MODEL.name

QWEN_WARNING = (
    "Produced by the embedded Qwen2.5-Coder-1.5B-Instruct model (small, running on CPU): "
    "faithful on most facts, but it can mistranslate terms and slip on figures. Numbers are "
    "checked against the Chinese source and repaired where unambiguous; what could not be "
    "checked is marked. For real use, re-run with a capable model."
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "gpt-4o-mini", 128_000, structured="json_schema", price_in=0.15, price_out=0.60,
            batch_discount=0.5, max_output_tokens=16_384, chunk_budget=3000, match=("gpt-4o-mini",),
        ),
        Profile(
            "gpt-4o", 128_000, structured="json_schema", price_in=2.50, price_out=10.0,
            batch_discount=0.5, max_output_tokens=16_384, chunk_budget=3000, match=("gpt-4o",),
        ),
        Profile(
            "gpt-4.1-mini", 1_047_576, structured="json_schema", price_in=0.40, price_out=1.60,
            batch_discount=0.5, max_output_tokens=32_768, chunk_budget=4000,
            match=("gpt-4.1-mini", "gpt-4.1-nano"),
        ),
        Profile(
            "gpt-4.1", 1_047_576, structured="json_schema", price_in=2.0, price_out=8.0,
            batch_discount=0.5, max_output_tokens=32_768, chunk_budget=4000, match=("gpt-4.1",),
        ),
        Profile(
            "deepseek-chat", 64_000, structured="json_object", price_in=0.27, price_out=1.10,
            max_output_tokens=8192, chunk_budget=3000, match=("deepseek",),
        ),
        Profile(
            "qwen-plus", 131_072, structured="json_object", price_in=0.40, price_out=1.20,
            max_output_tokens=8192, chunk_budget=3000, match=("qwen",),
        ),
        # Self-hosted: ollama has JSON mode; vLLM does json_schema by guided decoding.
        Profile("ollama", 8192, structured="json_object", max_output_tokens=2048),
        Profile("vllm", 32_768, structured="json_schema", chunk_budget=2500),
        # The embedded instruct model on CPU (~12 tokens/s): plain-text strategies, since
        # grammar-constrained JSON takes minutes a call there; one paragraph per call.
        Profile(
            QWEN_CODER_1_5B.profile, QWEN_CODER_1_5B.n_ctx, structured="json_object",
            max_output_tokens=1024, chunk_budget=500,
            match=("qwen2.5-coder-1.5b", QWEN_CODER_1_5B.name),
            weak=True, timeout_s=900.0, extra_params=("repeat_penalty", "top_k", "min_p"),
            max_concurrency=1,
            strategies={"translate": "per_unit", "summary": "sections", "commitments": "rules_en"},
            warning=QWEN_WARNING, deterministic=True,
        ),
        Profile("generic", 8192, structured="json_object", max_output_tokens=2048),
    )
}  # fmt: skip


def configured(model: str | None, profile: str | None, *, local: bool) -> tuple[str, str | None]:
    """(model, profile name) from the settings, the embedded model's where unset when no
    endpoint is configured (``local``); the model is "" when a remote endpoint has none."""
    if not local:
        return model or "", profile or None
    return model or LOCAL_MODEL_NAME, profile or LOCAL_PROFILE


def resolve_profile(profile: str | None, model: str | None) -> Profile:
    """The named profile, else the one whose prefix matches the model, else ``generic``."""
    if profile:
        try:
            return PROFILES[profile]
        except KeyError:
            known = ", ".join(sorted(PROFILES))
            raise ConfigError(f"Unknown READER_PROFILE {profile!r}; known: {known}.") from None
    name = (model or "").lower().rsplit("/", 1)[-1]
    # Longest prefix first so "gpt-4o-mini" wins over "gpt-4o".
    candidates = [(m, p) for p in PROFILES.values() for m in p.match if name.startswith(m)]
    if candidates:
        return max(candidates, key=lambda mp: len(mp[0]))[1]
    return PROFILES["generic"]


# The default embedded model's warning (what an offline run's pages show).
LOCAL_MODEL_WARNING = PROFILES[LOCAL_PROFILE].warning
