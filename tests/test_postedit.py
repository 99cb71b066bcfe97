"""The deterministic post-edit of the translation, end to end over respx-mocked HTTP: numbers
at the wrong magnitude repaired, Chinese left in the English replaced or marked, on the
artifact, in its quality report and on the page."""

from __future__ import annotations

import datetime as dt

import httpx
import respx

from service.artifacts import TranslationArtifact
from service.checks.repairs import NumberFix, Repairs, TermFix
from service.render.bundle import DocumentBundle
from service.render.document import document_page
from service.tasks.context import TaskContext
from service.tasks.postedit import post_edit, post_edit_pieces
from service.tasks.translate import translate
from tests.fakes import CHAT, chat_reply, sent_json, translation_by_document
from tests.samples import GLOSSARY, chunks_by, make_document, plain_text, tables_after

TEXTS = [
    "全年新增城镇就业1361万人。",
    "深入推进先行示范区建设，踔厉奋发。",
    "全市常住人口达到1768万人。",
]
WRONG = {
    "p1": "Urban employment grew by 1361 million over the year.",  # 1361万: repairable
    "p2": "We will advance the 先行示范区 and 踔厉 forge ahead.",  # a term, then the unknown
    "p3": "The resident population reached 1786 million.",  # digits swapped: not repairable
}
DOC = make_document(TEXTS)
CHUNKS = chunks_by(DOC, [[0, 1, 2]])


def kinds(art: TranslationArtifact, pid: str) -> list[str]:
    return [i.kind for i in art.quality.issues if i.paragraph_id == pid]


def markdown(art: TranslationArtifact) -> str:
    bundle = DocumentBundle(document=DOC, translation=art)
    return document_page(bundle, generated_at=dt.datetime(2026, 12, 1), reader_version="t")


def page(art: TranslationArtifact) -> str:
    """The document page as a reader sees it (plain text, no markup)."""
    return plain_text(markdown(art))


@respx.mock
async def test_a_wrong_magnitude_is_repaired_and_recorded(ctx: TaskContext) -> None:
    respx.post(CHAT).mock(side_effect=translation_by_document(WRONG))
    art = await translate(DOC, CHUNKS, ctx)
    p1 = art.paragraphs[0]
    assert p1.en == "Urban employment grew by 13.61 million over the year."
    fix = NumberFix(wrong="1361 million", right="13.61 million", zh="1361万")
    assert p1.repairs == Repairs(numbers=[fix])
    assert kinds(art, "p1") == ["number_repaired"]  # nothing left missing: judged after repair
    assert art.quality.numbers_repaired == 1
    text = page(art)
    assert "13.61 million" in text and "1361 million over" not in text
    assert "numbers corrected: 1361 million → 13.61 million (1361万)" in text
    (repairs,) = tables_after(markdown(art), "Repairs made")
    assert repairs[0][:3] == ["translation", "p1", "warning"]
    assert "'1361 million' corrected to '13.61 million'" in repairs[0][3]


@respx.mock
async def test_an_unrepairable_number_is_marked_next_to_its_paragraph(ctx: TaskContext) -> None:
    respx.post(CHAT).mock(side_effect=translation_by_document(WRONG))
    art = await translate(DOC, CHUNKS, ctx)
    p3 = art.paragraphs[2]
    assert p3.en == WRONG["p3"] and p3.repairs.empty
    assert kinds(art, "p3") == ["number_missing", "number_extra"]
    english, bilingual = page(art).split("Bilingual text", 1)
    for rendering in (english, bilingual):
        note = rendering.split(WRONG["p3"], 1)[1].splitlines()[1]  # the line after the English
        assert note == (
            "⚠ number 1768万 (17.68 million) not found in this translation · "
            "⚠ number 1786 million is not in the source"
        )


@respx.mock
async def test_a_leftover_term_is_replaced_and_unknown_chinese_transliterated(
    ctx: TaskContext,
) -> None:
    respx.post(CHAT).mock(side_effect=translation_by_document(WRONG))
    art = await translate(DOC, CHUNKS, ctx)
    p2 = art.paragraphs[1]
    assert p2.en == "We will advance the pilot demonstration zone and Chuoli forge ahead."
    assert p2.repairs.terms == [
        TermFix(
            was="先行示范区", zh="先行示范区", en="pilot demonstration zone", source="glossary"
        ),
        TermFix(was="踔厉", zh="踔厉", en="Chuoli", source="pinyin"),
    ]
    assert kinds(art, "p2") == ["term_replaced", "term_replaced"]
    assert art.quality.terms_replaced == 2
    text = page(art)
    assert "glossary terms: 先行示范区 → pilot demonstration zone" in text
    assert "left in pinyin: 踔厉 → Chuoli" in text


@respx.mock
async def test_a_traditional_script_unit_is_repaired_too(ctx: TaskContext) -> None:
    doc = make_document(["全年新增城鎮就業1361萬人，推進先行示範區建設。"])
    answer = {"p1": "Urban jobs grew by 1361 million, advancing the 先行示範區。"}
    respx.post(CHAT).mock(side_effect=translation_by_document(answer))
    art = await translate(doc, chunks_by(doc, [[0]]), ctx)
    p1 = art.paragraphs[0]
    assert p1.en == "Urban jobs grew by 13.61 million, advancing the pilot demonstration zone."
    assert [n.zh for n in p1.repairs.numbers] == ["1361萬"]
    assert [(t.was, t.source) for t in p1.repairs.terms] == [
        ("先行示範區", "glossary"),
        ("。", "punctuation"),
    ]
    assert [i.kind for i in art.quality.issues] == [
        "number_repaired",
        "term_replaced",
        "punctuation_replaced",
    ]


@respx.mock
async def test_a_re_run_from_the_call_cache_gives_the_same_artifact(ctx: TaskContext) -> None:
    route = respx.post(CHAT).mock(side_effect=translation_by_document(WRONG))
    first = await translate(DOC, CHUNKS, ctx)
    again = await translate(DOC, CHUNKS, ctx)
    assert route.call_count == 1 and again.provenance.cache_hits == 1
    assert again.paragraphs == first.paragraphs and again.quality == first.quality
    assert again.paragraphs[0].repairs.numbers  # the cache holds the raw answer, repaired again


@respx.mock
async def test_per_unit_answers_are_repaired(local_ctx: TaskContext) -> None:
    by_text = {zh: WRONG[f"p{i}"] for i, zh in enumerate(TEXTS, 1)}

    def answer(request: httpx.Request) -> httpx.Response:
        user = sent_json(request)["messages"][-1]["content"]
        return chat_reply(next(en for zh, en in by_text.items() if f"\n{zh}\n</document>" in user))

    route = respx.post(CHAT).mock(side_effect=answer)
    art = await translate(DOC, CHUNKS, local_ctx)  # the embedded model's per_unit strategy
    # p2's Chinese left and p3's number left out are re-asked once each, then post-edited.
    assert route.call_count == 5
    assert [p.en for p in art.paragraphs] == [
        "Urban employment grew by 13.61 million over the year.",
        "We will advance the pilot demonstration zone and Chuoli forge ahead.",
        WRONG["p3"],
    ]
    assert art.quality.numbers_repaired == 1 and art.quality.terms_replaced == 2


def test_pieces_of_a_split_paragraph_are_repaired_each_against_their_own_source() -> None:
    pieces = [
        ("新增1361万人，", "added 1361 million people,"),
        ("达到14亿。", "reaching 14 billion."),
    ]
    en, repairs = post_edit_pieces(pieces, GLOSSARY)
    assert en == "added 13.61 million people, reaching 1.4 billion."
    assert [(n.wrong, n.right) for n in repairs.numbers] == [
        ("1361 million", "13.61 million"),
        ("14 billion", "1.4 billion"),
    ]


def test_without_a_glossary_the_dictionary_and_names_still_apply() -> None:
    en, repairs = post_edit("积极稳妥推进", "We advance 稳妥", None)
    assert en == "We advance dependable"
    assert [(t.zh, t.source) for t in repairs.terms] == [("稳妥", "dictionary")]
