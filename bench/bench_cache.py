"""Cached-call overhead through Gateway.generate on a hit (median and p99).

Run: PYTHONPATH=. python bench/bench_cache.py [--n 2000]

One miss is served by a respx-mocked endpoint (no network); every later call with the same
request is a cache hit: render + key + SQLite lookup + validation + ledger write.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import respx
from pydantic import BaseModel

from service.config import Settings
from service.llm.gateway import Gateway
from service.llm.prompts import PromptCatalog
from service.store import Store

PROMPT = """+++
id = "bench"
version = "v1"
task = "bench"
mode = "chat"
strategy = "json"
schema = "BenchItems"
variables = ["text", "glossary"]
[params]
temperature = 0
max_tokens = 200
+++
## system
List the measures in the document. Glossary:
{{glossary}}

## user
{{text}}
"""

ANSWER = '{"items": ["建设学校", "扩建医院", "新增公交线路"]}'


class BenchItems(BaseModel):
    items: list[str]


def chat_body() -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 30, "total_tokens": 930},
    }


async def run(n: int, root: Path) -> list[float]:
    (root / "prompts" / "bench").mkdir(parents=True)
    (root / "prompts" / "bench" / "v1.chat.md").write_text(PROMPT, encoding="utf-8")
    settings = Settings(
        openai_base_url="http://llm.bench/v1",
        openai_api_key="sk-bench",
        model="gpt-4o-mini",
        prompts_dir=root / "prompts",
        cache_dir=root,
    )
    store = Store(settings.db_url)
    catalog = PromptCatalog({"BenchItems": BenchItems}, {"bench": ("json",)})
    gw = Gateway(settings, store, http_client=httpx.AsyncClient(), catalog=catalog)
    text = "深圳市将加快建设学校和医院。" * 120  # ~1,700 characters, a typical chunk
    variables = {"text": text, "glossary": "深圳 = Shenzhen\n南山区 = Nanshan District"}
    with respx.mock:
        respx.post("http://llm.bench/v1/chat/completions").respond(json=chat_body())
        await gw.generate("bench", variables)  # the one miss
    timings = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await gw.generate("bench", variables)
        timings.append((time.perf_counter() - t0) * 1000)
        assert result.record.cached
    await gw.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="Number of cached lookups.")
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        ms = asyncio.run(run(n, Path(tmp)))
    ms.sort()
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"cached Gateway.generate, n={n}: median {statistics.median(ms):.3f} ms, p99 {p99:.3f} ms"
    )


if __name__ == "__main__":
    main()
