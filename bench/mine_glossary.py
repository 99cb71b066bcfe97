"""List official-English candidates for Chinese terms from the bilingual reference set.

Usage: PYTHONPATH=. python bench/mine_glossary.py [--ref DIR] TERM [TERM ...]
       PYTHONPATH=. python bench/mine_glossary.py --tsv prompts/glossary.tsv   (candidates)
       PYTHONPATH=. python bench/mine_glossary.py --check prompts/glossary.tsv (audit sources)

For each term: how many reference pairs contain it, and the English word n-grams that are most
specific to those pairs (frequent there, rare elsewhere). A human decides the entry; this tool
only gathers evidence and prints nothing from the reference beyond short n-grams.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from service.checks.glossary import Glossary
from service.eval.reference import (
    ReferenceDoc,
    ReferencePair,
    default_reference_dir,
    load_reference_dir,
    rendering_evidence,
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")


def ngrams(text: str, max_n: int = 7) -> set[str]:
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    return {
        " ".join(words[i : i + n]) for n in range(1, max_n + 1) for i in range(len(words) - n + 1)
    }


def candidates(term: str, pairs: list[ReferencePair], df_all: Counter[str], top: int) -> list[str]:
    hits = [p for p in pairs if term in p.zh]
    df_in: Counter[str] = Counter()
    for p in hits:
        df_in.update(ngrams(p.en))
    scored = []
    for gram, n_in in df_in.items():
        if n_in < max(1, len(hits) // 2) or len(gram) < 4:
            continue
        precision = n_in / df_all[gram]
        scored.append((precision * n_in / len(hits) * (1 + 0.1 * gram.count(" ")), gram, n_in))
    scored.sort(reverse=True)
    return [f"{g} ({n}/{len(hits)})" for _, g, n in scored[:top]]


def check(path: Path, docs: list[ReferenceDoc]) -> None:
    """Print each entry's evidence; flag sources that the reference does not back up."""
    for entry in Glossary.load(path).entries:
        ev = rendering_evidence(entry.zh, entry.renderings, docs)
        claims = entry.source.startswith("gwr-bilingual")
        flag = "BAD " if claims and not ev.pairs_with_rendering else ""
        flag += "NEW " if not claims and ev.pairs_with_rendering else ""
        print(f"{flag}{entry.zh}\t{ev.pairs_with_rendering}/{ev.pairs_with_term}\t{entry.en}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("terms", nargs="*")
    parser.add_argument("--ref", type=Path, default=default_reference_dir())
    parser.add_argument("--tsv", type=Path, help="check every zh of a glossary file")
    parser.add_argument("--check", type=Path, help="audit the source column of a glossary file")
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    docs = load_reference_dir(args.ref)
    if args.check:
        check(args.check, docs)
        return
    pairs = [p for doc in docs for p in doc.pairs]
    df_all: Counter[str] = Counter()
    for p in pairs:
        df_all.update(ngrams(p.en))
    terms = list(args.terms)
    if args.tsv:
        rows = args.tsv.read_text(encoding="utf-8").splitlines()
        terms += [r.split("\t")[0] for r in rows if r and not r.startswith(("#", "zh\t"))]
    for term in terms:
        count = sum(term in p.zh for p in pairs)
        print(f"{term}\t{count}\t" + " | ".join(candidates(term, pairs, df_all, args.top)))


if __name__ == "__main__":
    main()
