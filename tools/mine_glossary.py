"""List official-English candidates for Chinese terms from the bilingual reference set.

Usage: PYTHONPATH=. python tools/mine_glossary.py [--ref DIR] TERM [TERM ...]
       PYTHONPATH=. python tools/mine_glossary.py --tsv prompts/glossary.tsv   (check entries)

For each term: how many reference pairs contain it, and the English word n-grams that are most
specific to those pairs (frequent there, rare elsewhere). A human decides the entry; this tool
only gathers evidence and prints nothing from the reference beyond short n-grams.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from service.reference import ReferencePair, default_reference_dir, load_reference_dir

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("terms", nargs="*")
    parser.add_argument("--ref", type=Path, default=default_reference_dir())
    parser.add_argument("--tsv", type=Path, help="check every zh of a glossary file")
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    pairs = [p for doc in load_reference_dir(args.ref) for p in doc.pairs]
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
