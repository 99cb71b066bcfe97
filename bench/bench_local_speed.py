"""Generation speed of the embedded model: over HTTP (server + openai SDK) vs llama.cpp in-process.

Same prompt, max_tokens and temperature 0 both ways; a warm-up call each, then --reps timed
calls, alternating between the two paths.
tokens/s = completion tokens / wall time of the whole call (prompt processing included), so the
difference between the two rows is what the server and HTTP cost us.

    PYTHONPATH=. python bench/bench_local_speed.py [--reps 3] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.config import Settings
from service.llm.local import LOCAL_API_KEY, LOCAL_MODEL_ALIAS, N_CTX, LocalServer, ensure_model

PROMPT = (
    "Chinese: 深圳市政府召开常务会议。\nEnglish: The Shenzhen municipal government held an "
    "executive meeting.\n\nChinese: 加快建设现代化产业体系。\nEnglish: Accelerate the building of "
    "a modern industrial system.\n\nChinese: 力争年底前开工建设自由电子激光科学装置，"
    "推动大湾区综合性国家科学中心建设。\nEnglish:"
)


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


def http_caller(base_url: str, max_tokens: int) -> Callable[[], tuple[int, int, str]]:
    """One completion through the local server with the openai SDK's completions endpoint."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=LOCAL_API_KEY, max_retries=0)

    def call() -> tuple[int, int, str]:
        out = client.completions.create(
            model=LOCAL_MODEL_ALIAS,
            prompt=PROMPT,
            max_tokens=max_tokens,
            temperature=0,
            # The server defaults to repeat_penalty 1.1, the library to 1.0: make them equal.
            extra_body={"repeat_penalty": 1.0},
        )
        assert out.usage is not None
        return out.usage.prompt_tokens, out.usage.completion_tokens, out.choices[0].text

    return call


def in_process_caller(settings: Settings, max_tokens: int) -> Callable[[], tuple[int, int, str]]:
    """One completion with llama.cpp called directly: same model file and thread counts."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(ensure_model(settings)),
        n_ctx=N_CTX,
        n_threads=settings.local_threads,
        n_threads_batch=settings.local_threads,
        verbose=False,
    )

    def call() -> tuple[int, int, str]:
        out = llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0)
        assert isinstance(out, dict)
        usage = out["usage"]
        return usage["prompt_tokens"], usage["completion_tokens"], out["choices"][0]["text"]

    return call


def bench(settings: Settings, reps: int, max_tokens: int) -> tuple[list[Run], list[Run]]:
    """Alternate the two paths call by call, so drifting load on a shared machine hits both
    alike; calls never overlap (the idle server uses no CPU)."""
    with LocalServer(settings) as server:
        assert server.base_url is not None
        http = http_caller(server.base_url, max_tokens)
        local = in_process_caller(settings, max_tokens)
        timed(http), timed(local)  # warm-up: first calls are slow both ways
        pairs = [(timed(http), timed(local)) for _ in range(reps)]
    return [h for h, _ in pairs], [c for _, c in pairs]


def row(name: str, runs: list[Run]) -> str:
    secs = statistics.median(r.seconds for r in runs)
    tps = statistics.median(r.tokens_per_s for r in runs)
    toks = statistics.median(r.completion_tokens for r in runs)
    cells = [name, len(runs), runs[0].prompt_tokens, f"{toks:.0f}", f"{secs:.2f}", f"{tps:.1f}"]
    return "| " + " | ".join(map(str, cells)) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    settings = Settings()
    http, local = bench(settings, args.reps, args.max_tokens)
    print(f"command: {' '.join(['python', *sys.argv])}")
    print(f"threads: {settings.local_threads}, max_tokens: {args.max_tokens}, temperature: 0\n")
    print("| path | runs | prompt tok | completion tok | median s | median tok/s |")
    print("|---|---|---|---|---|---|")
    print(row("server over HTTP (openai SDK)", http))
    print(row("llama.cpp in-process", local))
    ratio = statistics.median(r.tokens_per_s for r in local) / statistics.median(
        r.tokens_per_s for r in http
    )
    print(f"\nin-process / HTTP speed ratio: {ratio:.2f}")
    print(f"same text both ways: {http[0].text == local[0].text}")
    print(f"sample output: {local[0].text.strip()[:160]!r}")


if __name__ == "__main__":
    main()
