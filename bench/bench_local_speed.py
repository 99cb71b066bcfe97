"""Generation speed of the embedded model: through our gateway, over plain HTTP (server + openai
SDK), and with llama.cpp called in-process.

The request is the product's own: the embedded model's active translate prompt (the per-unit
chat prompt) rendered for one sentence, with its params; the two direct paths send exactly the
messages and params the gateway sends. The gateway's call cache is emptied before
each of its calls, so every call reaches the model. A warm-up call each, then --reps timed
rounds, the three paths in turn within a round.
tokens/s = completion tokens / wall time of the whole call (prompt processing included), so the
difference between the rows is what our gateway, the server and HTTP cost.

    PYTHONPATH=. python bench/bench_local_speed.py [--reps 5] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.config import Settings
from service.llm.embedded import DEFAULT_MODEL
from service.llm.endpoint import NO_KEY
from service.llm.gateway import Gateway
from service.llm.local import LOCAL_MODEL_ALIAS, LocalServer, ensure_model
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.llm.prompts import delimit, load_prompts
from service.store import Store
from service.tasks.registry import CATALOG

TASK = "translate"
# A real sentence of seed 000 (Simplified): a deadline and a facility to name.
SENTENCE = "力争年底前开工建设自由电子激光科学装置，推动大湾区综合性国家科学中心建设。"
# The per-unit task's variables for it as the first unit of a document, without hints.
VARIABLES = {
    "glossary": "",
    "names": "",
    "numbers": "",
    "previous": "(none)",
    "document": delimit(SENTENCE),
    "note": "",
}


@dataclass
class Run:
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    text: str

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds


def timed(call: Callable[[], tuple[int, int, str]]) -> Run:
    start = time.perf_counter()
    prompt_tokens, completion_tokens, text = call()
    return Run(time.perf_counter() - start, prompt_tokens, completion_tokens, text)


@dataclass(frozen=True)
class Request:
    """What the gateway sends for the task: the rendered messages and their generation params."""

    messages: list[dict[str, str]]
    params: dict[str, Any]  # temperature, max_tokens, ...: for the SDK and for llama.cpp

    @classmethod
    def of(cls, settings: Settings, max_tokens: int) -> Request:
        profile = PROFILES[LOCAL_PROFILE]
        tpl = load_prompts(settings, profile, CATALOG).get(TASK, profile.mode)
        messages = [{"role": m.role, "content": m.content} for m in tpl.render_messages(VARIABLES)]
        params = {k: v for k, v in tpl.params.items() if k != "max_tokens"}
        return cls(messages, {**params, "max_tokens": max_tokens})


def gateway_caller(
    settings: Settings, base_url: str, max_tokens: int, workdir: Path, cleanup: ExitStack
) -> Callable[[], tuple[int, int, str]]:
    """``Gateway.generate`` as the tasks call it (render, cache lookup, SDK, validation, cache
    write and ledger), with the cache emptied first so the call reaches the model."""
    store = Store(f"sqlite:///{workdir / 'speed.sqlite3'}")
    runner = asyncio.Runner()
    gateway = runner.run(_gateway(settings, store, base_url))

    def call() -> tuple[int, int, str]:
        store.prune_cache(prompt=TASK)
        result = runner.run(gateway.generate(TASK, VARIABLES, max_tokens=max_tokens))
        assert not result.record.cached
        return result.record.tokens_in, result.record.tokens_out, result.text

    def close() -> None:
        runner.run(gateway.aclose())
        runner.close()
        store.close()

    cleanup.callback(close)
    return call


async def _gateway(settings: Settings, store: Store, base_url: str) -> Gateway:
    """Configured as ``Reader`` configures it for the local server (built inside its loop)."""
    local = settings.model_copy(update={"model": LOCAL_MODEL_ALIAS, "profile": LOCAL_PROFILE})
    return Gateway(local, store, catalog=CATALOG, base_url=base_url)


def http_caller(base_url: str, request: Request) -> Callable[[], tuple[int, int, str]]:
    """The same chat completion through the local server with the openai SDK, nothing of ours."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=NO_KEY, max_retries=0)
    sdk = ("temperature", "stop", "max_tokens")
    passed = {k: v for k, v in request.params.items() if k in sdk}
    extra = {k: v for k, v in request.params.items() if k not in sdk}

    def call() -> tuple[int, int, str]:
        out = client.chat.completions.create(
            model=LOCAL_MODEL_ALIAS,
            messages=request.messages,  # type: ignore[arg-type]
            extra_body=extra,
            **passed,
        )
        assert out.usage is not None
        text = out.choices[0].message.content or ""
        return out.usage.prompt_tokens, out.usage.completion_tokens, text

    return call


def in_process_caller(settings: Settings, request: Request) -> Callable[[], tuple[int, int, str]]:
    """The same chat completion with llama.cpp called directly: same model file, chat template
    (from the GGUF, as the server takes it) and thread counts."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(ensure_model(settings)),
        n_ctx=DEFAULT_MODEL.n_ctx,
        n_threads=settings.local_threads,
        n_threads_batch=settings.local_threads,
        verbose=False,
    )

    def call() -> tuple[int, int, str]:
        out = llm.create_chat_completion(request.messages, **request.params)  # type: ignore[arg-type]
        assert isinstance(out, dict)
        usage = out["usage"]
        text = out["choices"][0]["message"]["content"] or ""
        return usage["prompt_tokens"], usage["completion_tokens"], text

    return call


PATHS = ("our gateway (Gateway.generate)", "server over HTTP (openai SDK)", "llama.cpp in-process")


def bench(settings: Settings, reps: int, max_tokens: int) -> list[list[Run]]:
    """The three paths in turn, round by round, so drifting load on a shared machine hits
    them alike; calls never overlap (the idle server uses no CPU)."""
    request = Request.of(settings, max_tokens)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(settings) as server,
        ExitStack() as cleanup,
    ):
        assert server.base_url is not None
        calls = [
            gateway_caller(settings, server.base_url, max_tokens, Path(tmp), cleanup),
            http_caller(server.base_url, request),
            in_process_caller(settings, request),
        ]
        for call in calls:
            timed(call)  # warm-up: first calls are slow every way
        rounds = [[timed(call) for call in calls] for _ in range(reps)]
    return [list(path) for path in zip(*rounds, strict=True)]


def row(name: str, runs: list[Run]) -> str:
    secs = statistics.median(r.seconds for r in runs)
    tps = statistics.median(r.tokens_per_s for r in runs)
    toks = statistics.median(r.completion_tokens for r in runs)
    cells = [name, len(runs), runs[0].prompt_tokens, f"{toks:.0f}", f"{secs:.2f}", f"{tps:.1f}"]
    return "| " + " | ".join(map(str, cells)) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    settings = Settings()
    runs = bench(settings, args.reps, args.max_tokens)
    request = Request.of(settings, args.max_tokens)
    print(f"command: {' '.join(['python', *sys.argv])}")
    print(f"threads: {settings.local_threads}, task: {TASK}, params: {request.params}\n")
    print("| path | runs | prompt tok | completion tok | median s | median tok/s |")
    print("|---|---|---|---|---|---|")
    for name, path in zip(PATHS, runs, strict=True):
        print(row(name, path))
    speed = [statistics.median(r.tokens_per_s for r in path) for path in runs]
    print(f"\nllama.cpp in-process / our gateway speed ratio: {speed[2] / speed[0]:.2f}")
    print(f"llama.cpp in-process / plain HTTP speed ratio: {speed[2] / speed[1]:.2f}")
    texts = {path[0].text.strip() for path in runs}
    print(f"same text all three ways: {len(texts) == 1}")
    print(f"sample output: {runs[2][0].text.strip()[:160]!r}")


if __name__ == "__main__":
    main()
