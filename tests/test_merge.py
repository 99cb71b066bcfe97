"""Merging duplicate commitments found across chunks, passes and restatements."""

from __future__ import annotations

from typing import Any

from service.models import Paragraph
from service.tasks.commitments.ground import ground_commitments
from service.tasks.commitments.merge import merge_commitments, same_pledge, spans_overlap
from service.tasks.commitments.schema import Commitment, ExtractedCommitment, Source, Target
from tests.samples import commitment_record, seed

REPORT = seed("004").read_text(encoding="utf-8")
TRAD = seed("000").read_text(encoding="utf-8")
NO_PARAGRAPHS: list[Paragraph] = []

SENTENCE = "大力发展数字经济,推进5G基础设施建设大提速,今年要累计建成基站4.5万个"
CLAUSE = "今年要累计建成基站4.5万个"
FUND = "设立首期规模30亿元的航运基金"
STATION = "建成平湖南集装箱中心站"


def extracted(quote: str, **overrides: Any) -> ExtractedCommitment:
    fields = {
        "actor_zh": "深圳市政府",
        "actor_en": "Shenzhen government",
        "action_en": "",
        "sector": "infrastructure_transport",
        "gloss_en": "",
    }
    return ExtractedCommitment(**commitment_record(quote, **(fields | overrides)))


def grounded(
    quote: str,
    chunk: str,
    *,
    text: str = REPORT,
    source: Source = "model",
    **overrides: Any,
) -> Commitment:
    [c] = ground_commitments(
        "doc", text, NO_PARAGRAPHS, [extracted(quote, **overrides)], chunk_id=chunk, source=source
    )
    return c


BASE_STATIONS = Target(text="4.5万个", value=45000, unit="个", kind="count")


def test_same_pledge_in_two_chunks_merges() -> None:
    a = grounded(FUND, "c1")
    b = grounded(FUND, "c2")
    [merged] = merge_commitments([b, a])
    assert merged.id == a.id == b.id
    assert merged.chunk_ids == ["c1", "c2"]
    assert [(m.start, m.end) for m in merged.mentions] == [(a.start, a.end)]


def test_overlapping_spans_merge_and_the_specific_record_wins() -> None:
    whole = grounded(SENTENCE, "c1")  # longer, but no number or deadline extracted
    clause = grounded(CLAUSE, "c2", targets=[BASE_STATIONS], deadline_text="今年")
    assert spans_overlap(whole, clause)
    [merged] = merge_commitments([whole, clause])
    assert merged.id == clause.id and merged.quote == CLAUSE
    assert merged.targets == [BASE_STATIONS]
    assert [m.text for m in merged.mentions] == [SENTENCE, CLAUSE]
    assert merged.chunk_ids == ["c1", "c2"]


def test_longer_record_wins_when_equally_specific() -> None:
    whole = grounded(SENTENCE, "c1")
    clause = grounded(CLAUSE, "c1")
    [merged] = merge_commitments([clause, whole])
    assert merged.quote == SENTENCE


def test_small_overlap_does_not_merge() -> None:
    first = grounded("大力发展数字经济,推进5G基础设施建设大提速", "c1")
    second = grounded("大提速,今年要累计建成基站4.5万个,在全国率先实现5G基础设施全覆盖", "c1")
    assert not spans_overlap(first, second)
    assert len(merge_commitments([first, second])) == 2


def test_distinct_pledges_stay_apart() -> None:
    items = [grounded(FUND, "c1"), grounded(STATION, "c1"), grounded(CLAUSE, "c0")]
    merged = merge_commitments(items)
    assert [c.quote for c in merged] == [CLAUSE, FUND, STATION]  # by start offset


def test_restatement_elsewhere_merges_under_one_id() -> None:
    # A report restates a pledge in its summary; the quotes differ by a word.
    text = (
        f"今年要累计建成5G基站4.5万个,实现全覆盖。……{REPORT[:200]}……全年要累计建成5G基站4.5万个。"
    )
    first = grounded("今年要累计建成5G基站4.5万个", "c0", text=text)
    again = grounded("全年要累计建成5G基站4.5万个", "c3", text=text, deadline_text="全年")
    assert first.start != again.start and not spans_overlap(first, again)
    [merged] = merge_commitments([again, first])
    assert merged.id == again.id  # the one with a deadline is more specific
    assert [m.start for m in merged.mentions] == [first.start, again.start]
    assert merged.chunk_ids == ["c0", "c3"]


def test_same_actor_action_and_targets_merge_despite_different_quotes() -> None:
    text = "深圳要加快建设基站,今年累计达到4.5万个。会议指出,今年全市累计建成4.5万个基站。"
    a = grounded(
        "深圳要加快建设基站,今年累计达到4.5万个",
        "c0",
        text=text,
        action_zh="建成基站",
        targets=[BASE_STATIONS],
        deadline_text="今年",
    )
    b = grounded(
        "今年全市累计建成4.5万个基站",
        "c1",
        text=text,
        action_zh="建成基站",
        targets=[BASE_STATIONS],
        deadline_text="今年",
    )
    assert same_pledge(a, b)
    assert len(merge_commitments([a, b])) == 1
    other = b.model_copy(update={"targets": [], "id": "other"})
    assert not same_pledge(a, other)


def test_sources_union_to_model_plus_rules() -> None:
    by_model = grounded(FUND, "c1")
    by_rules = grounded(FUND, "c1", source="rules")
    [merged] = merge_commitments([by_model, by_rules])
    assert merged.source == "model+rules"
    assert merge_commitments([by_rules])[0].source == "rules"


def test_unaligned_never_becomes_canonical() -> None:
    aligned = grounded(FUND, "c1")
    # The model added a character (so the quote is lost) but filled in more detail.
    lost = grounded(
        "设立首期规模30亿元的航运基金会",
        "c2",
        text="无关文本",
        targets=[Target(text="30亿元", value=3e9, unit="元", kind="money")],
        deadline_text="年底前",
    )
    assert lost.alignment == "unaligned"
    [merged] = merge_commitments([lost, aligned])
    assert merged.id == aligned.id and merged.alignment == "exact"
    assert merged.chunk_ids == ["c1", "c2"]


def test_exact_beats_fuzzy_for_the_same_span() -> None:
    exact = grounded("力爭年底前開工建設自由電子激光科學裝置", "c1", text=TRAD)
    fuzzy = grounded("力争年底前开工建设自由电子激光装置", "c2", text=TRAD)
    assert (exact.alignment, fuzzy.alignment) == ("exact", "fuzzy")
    [merged] = merge_commitments([fuzzy, exact])
    assert merged.alignment == "exact"


def test_unaligned_records_come_last_and_merge_among_themselves() -> None:
    lost_a = grounded("到2030年在月球上建成深圳科学城", "c1", text="无关")
    lost_b = grounded("到2030年在月球上建成深圳科学城。", "c4", text="无关")
    fund = grounded(FUND, "c2")
    merged = merge_commitments([lost_a, fund, lost_b])
    assert [c.alignment for c in merged] == ["exact", "unaligned"]
    assert merged[1].chunk_ids == ["c1", "c4"]


def test_merge_is_deterministic_and_idempotent() -> None:
    items = [
        grounded(SENTENCE, "c1"),
        grounded(CLAUSE, "c2", targets=[BASE_STATIONS]),
        grounded(FUND, "c2"),
        grounded(FUND, "c3", source="rules"),
        grounded(STATION, "c3"),
        grounded("到2030年在月球上建成深圳科学城", "c1"),
    ]
    orders = [items[k:] + items[:k] for k in range(len(items))]
    orders += [list(reversed(o)) for o in orders]
    results = {tuple(c.model_dump_json() for c in merge_commitments(o)) for o in orders}
    assert len(results) == 1
    once = merge_commitments(items)
    assert merge_commitments(once) == once
    assert len(once) == 4


def test_generic_action_alone_does_not_merge() -> None:
    text = "加快建设西部出海航道。加快建设平湖南集装箱中心站。"
    a = grounded("加快建设西部出海航道", "c0", text=text, action_zh="加快建设")
    b = grounded("加快建设平湖南集装箱中心站", "c0", text=text, action_zh="加快建设")
    assert len(merge_commitments([a, b])) == 2


def test_overlapping_chunks_of_a_real_document_yield_each_sentence_once() -> None:
    # Pledge sentences (with 確保/力爭) extracted from two overlapping windows of 000.
    sentences = [s for s in TRAD.replace("\n", "。").split("。") if "確保" in s or "力爭" in s]
    assert len(sentences) >= 3
    middle = TRAD.index(sentences[len(sentences) // 2])
    windows = {"c0": (0, middle + len(sentences[len(sentences) // 2])), "c1": (middle, len(TRAD))}
    records: list[Commitment] = []
    for chunk_id, (lo, hi) in windows.items():
        inside = [extracted(s) for s in sentences if s in TRAD[lo:hi]]
        records += ground_commitments(
            "doc", TRAD, NO_PARAGRAPHS, inside, chunk_id=chunk_id, within=(lo, hi)
        )
    merged = merge_commitments(records)
    assert len(records) == len(sentences) + 1  # the middle sentence is in both windows
    assert [c.quote for c in merged] == sentences
    assert merged[len(sentences) // 2].chunk_ids == ["c0", "c1"]
