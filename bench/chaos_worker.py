"""One batch process for the chaos scripts: documents in, one JSON line per document out.

Run: PYTHONPATH=. python -m bench.chaos_worker --base URL --cache-dir DIR --docs N
     [--offset K] [--via reader|gateway] [--kind translation] [--concurrency 4]

Every document is accounted for: ``{"doc": i, "status": "ok"|"partial"|"failed", "reason":
...}`` is printed (and flushed) as soon as it is known; a last line ``{"done": true, ...}``
closes the batch. A model endpoint that gives up (``ModelUnavailable``) fails that document
with its message; anything else is a bug and propagates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench.bench_throughput import BENCH_CATALOG, PROMPT, bench_settings
from bench.common import synthetic_docs
from service.config import Settings
from service.errors import ModelError, ModelUnavailable


def say(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def gateway_batch(settings: Settings, docs: list[str], offset: int) -> list[str]:
    from service.llm.gateway import Gateway
    from service.store import Store

    store = Store(settings.db_url)
    gw = Gateway(settings, store, catalog=BENCH_CATALOG)

    async def one(i: int, text: str) -> str:
        try:
            await gw.generate("bench_throughput", {"text": text})
        except (ModelError, ModelUnavailable) as exc:
            say({"doc": i, "status": "failed", "reason": str(exc)})
            return "failed"
        say({"doc": i, "status": "ok"})
        return "ok"

    try:
        return await asyncio.gather(*(one(offset + k, d) for k, d in enumerate(docs)))
    finally:
        await gw.aclose()
        store.close()


async def reader_batch(settings: Settings, docs: list[str], offset: int, kind: str) -> list[str]:
    from service.reader import Reader

    async with Reader.open(settings) as reader:
        ids = [
            reader.library.add_bytes(d.encode(), f"chaos-{offset + k:04d}.txt")[0].id
            for k, d in enumerate(docs)
        ]

        async def one(i: int, doc_id: str) -> str:
            # As `policy-reader run` does: a stored partial/failed artifact is recomputed
            # (its good chunks come from the cache), a stored ok one is returned.
            stored = reader.stored(doc_id, kind)  # type: ignore[arg-type]
            again = stored is not None and stored.status != "ok"
            try:
                artifact = await reader.compute(doc_id, kind, force=again)  # type: ignore[arg-type]
            except ModelUnavailable as exc:
                say({"doc": i, "id": doc_id, "status": "failed", "reason": str(exc)})
                return "failed"
            reasons = [o.error for o in getattr(artifact, "chunks", []) if o.error]
            line = {"doc": i, "id": doc_id, "status": artifact.status}
            say({**line, "reason": "; ".join(reasons)[:300]} if reasons else line)
            return str(artifact.status)

        return await asyncio.gather(*(one(offset + k, d) for k, d in enumerate(ids)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--via", choices=("reader", "gateway"), default="reader")
    parser.add_argument("--kind", default="translation")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--api-key", default="sk-bench", help="A canary to look for in outputs.")
    args = parser.parse_args()
    docs = synthetic_docs(args.offset + args.docs)[args.offset :]
    extra: dict[str, Any] = {"timeout_s": args.timeout, "openai_api_key": args.api_key}
    if args.via == "gateway":
        prompts = args.cache_dir / "prompts"
        (prompts / "bench_throughput").mkdir(parents=True, exist_ok=True)
        (prompts / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
        extra["prompts_dir"] = prompts
    settings = bench_settings(args.base, args.cache_dir, args.concurrency, **extra)
    if args.via == "gateway":
        statuses = asyncio.run(gateway_batch(settings, docs, args.offset))
    else:
        statuses = asyncio.run(reader_batch(settings, docs, args.offset, args.kind))
    say({"done": True, "counts": {s: statuses.count(s) for s in sorted(set(statuses))}})


if __name__ == "__main__":
    main()
