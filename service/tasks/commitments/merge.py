"""Merge duplicate commitments: across overlapping chunks, extraction passes and restatements.

Two records are the same pledge when their grounded spans overlap by at least half of the
shorter one, when their normalised quotes are near-identical, or when actor, action, targets
and deadline agree. Each group keeps its most specific record as canonical (unaligned records
never win over aligned ones) and collects every mention, chunk id and source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from service.tasks.commitments.ground import normalize
from service.tasks.commitments.schema import Commitment, Source, Span

SIMILARITY = 90.0  # rapidfuzz ratio (0-100) on normalised Simplified text
MIN_OVERLAP = 0.5  # share of the shorter span
_MIN_ACTION_CHARS = 8
_ALIGNMENT_RANK = {"exact": 3, "normalized": 2, "fuzzy": 1, "unaligned": 0}


def merge_commitments(items: Sequence[Commitment]) -> list[Commitment]:
    """Merge duplicates; output ordered by start offset, unaligned records last.

    Deterministic: the result does not depend on the order of ``items``.
    """
    ordered = sorted(items, key=_order_key)
    groups = _group(ordered)
    merged = [_merge_group([ordered[i] for i in members]) for members in groups]
    return sorted(merged, key=_order_key)


def _order_key(c: Commitment) -> tuple[int, int, int, str, str]:
    if c.start is None or c.end is None:
        return (1, 0, 0, normalize(c.quote_zh), c.id)
    return (0, c.start, c.end, normalize(c.quote_zh), c.id)


def _group(items: Sequence[Commitment]) -> list[list[int]]:
    """Connected components of the 'same pledge' relation (union-find)."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [_Key.of(c) for c in items]
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if find(i) != find(j) and _same(items[i], items[j], keys[i], keys[j]):
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class _Key:
    """Normalised fields used for comparison, computed once per record."""

    quote: str
    action: str
    actor: str
    targets: frozenset[str]
    deadline: str

    @classmethod
    def of(cls, c: Commitment) -> _Key:
        targets = frozenset(
            f"{t.value:g}|{normalize(t.unit or '')}" if t.value is not None else normalize(t.text)
            for t in c.targets
        )
        return cls(
            normalize(c.quote or c.quote_zh),
            normalize(c.action_zh),
            normalize(c.actor_zh or ""),
            targets,
            normalize(c.deadline_text or "") or (c.deadline_end or ""),
        )


def same_pledge(a: Commitment, b: Commitment) -> bool:
    """Whether two records state the same commitment."""
    return _same(a, b, _Key.of(a), _Key.of(b))


def _same(a: Commitment, b: Commitment, ka: _Key, kb: _Key) -> bool:
    if spans_overlap(a, b):
        return True
    if ka.quote and fuzz.ratio(ka.quote, kb.quote) >= SIMILARITY:
        return True
    # A bare generic action (加快建设) is not enough: it needs a target, a deadline or length.
    return (
        bool(ka.targets or ka.deadline or len(ka.action) >= _MIN_ACTION_CHARS)
        and ka.actor == kb.actor
        and ka.targets == kb.targets
        and ka.deadline == kb.deadline
        and fuzz.ratio(ka.action, kb.action) >= SIMILARITY
    )


def spans_overlap(a: Commitment, b: Commitment, share: float = MIN_OVERLAP) -> bool:
    """Whether two grounded spans overlap by at least ``share`` of the shorter one."""
    if a.start is None or a.end is None or b.start is None or b.end is None:
        return False
    overlap = min(a.end, b.end) - max(a.start, b.start)
    shorter = min(a.end - a.start, b.end - b.start)
    return shorter > 0 and overlap >= share * shorter


def specificity(c: Commitment) -> tuple[int, int, int, int]:
    """Sort key, higher wins: aligned, has a number or deadline, alignment quality, length."""
    has_detail = any(t.value is not None for t in c.targets) or c.deadline_text is not None
    length = len(c.quote or c.quote_zh)
    return (int(c.aligned), int(has_detail), _ALIGNMENT_RANK[c.alignment], length)


def _merge_group(group: Sequence[Commitment]) -> Commitment:
    # Earlier position breaks ties, so the canonical record is the first statement.
    # The JSON dump only breaks exact ties, so the choice never depends on input order.
    canonical = max(group, key=lambda c: (specificity(c), _neg_order(c), c.model_dump_json()))
    if len(group) == 1:
        return canonical
    return canonical.model_copy(
        update={
            "mentions": _mentions(group),
            "chunk_ids": _union(c.chunk_ids for c in group),
            "source": _source(c.source for c in group),
        }
    )


def _neg_order(c: Commitment) -> tuple[int, int]:
    return (-1, 0) if c.start is None else (-c.start, -(c.end or 0))


def _mentions(group: Sequence[Commitment]) -> list[Span]:
    spans: dict[tuple[int, int], Span] = {}
    for c in group:
        for span in c.mentions:
            spans.setdefault((span.start, span.end), span)
        if c.start is not None and c.end is not None and c.quote is not None:
            spans.setdefault(
                (c.start, c.end),
                Span(start=c.start, end=c.end, text=c.quote, paragraph_id=c.paragraph_id),
            )
    return [spans[k] for k in sorted(spans)]


def _union(lists: Iterable[list[str]]) -> list[str]:
    """Union of chunk ids, in chunk order."""
    seen: dict[str, None] = {}
    for ids in lists:
        for i in ids:
            seen.setdefault(i, None)
    return sorted(seen, key=lambda i: (len(i), i))  # c2 before c10


def _source(sources: Iterable[Source]) -> Source:
    kinds: set[str] = set()
    for s in sources:
        kinds.update(s.split("+"))
    if kinds == {"model"}:
        return "model"
    if kinds == {"rules"}:
        return "rules"
    return "model+rules"
