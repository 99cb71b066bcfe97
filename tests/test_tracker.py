"""The promise tracker: entities linked across documents and years, its pages and its CLI."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from typer.testing import CliRunner

from service.artifacts import (
    ChunkOutcome,
    CommitmentsArtifact,
    GroundingReport,
    TranslatedParagraph,
    TranslationArtifact,
)
from service.checks.quality import translation_report
from service.cli import app
from service.config import Settings
from service.library import Library
from service.models import Document, DocumentMeta
from service.render.bundle import DocumentBundle
from service.render.document import document_page
from service.render.site import render_site, site_tracker
from service.render.tracker import entity_page, tracker_page
from service.store.store import Store
from service.tasks.commitments.english import NOT_RENDERED, concrete_candidates
from service.tasks.commitments.extract import candidate_to_extracted
from service.tasks.commitments.ground import ground_commitments
from service.tasks.commitments.rules import detect
from service.tasks.commitments.schema import Commitment
from service.tasks.commitments.tracker import (
    Tracker,
    build_tracker,
    entity_id,
    translated_sentence,
)
from tests.samples import (
    GENERATED_AT,
    READER_VERSION,
    check_links,
    make_document,
    provenance,
    terms_for,
)

GENERAL = "要加快完善跨境医疗服务衔接机制"
# Three documents of three years; the first in Traditional script, the last dated by its title.
MEETING_2021 = (
    "會議強調，要著力優化光明科學城建設體制機制，力爭年底前開工建設自由電子激光科學裝置。"
)
VISIT_2023 = (
    "孟凡利在河套深港科技创新合作区调研时强调，要高标准推进合作区深圳园区建设，"
    "联动香港园区、光明科学城等节点，推动设施互联、服务共享。"
)
REPORT_2020 = [
    "高水平打造深港科技创新合作区。制定实施合作区“1+N”规划体系，推动出台配套支持政策。",
    "高标准建设光明科学城。坚持规划引领，加快光明云谷、光明小镇等重大项目建设。",
    f"我们将继续努力，{GENERAL}。",
]
REPORT_TITLE = "2020年政府工作报告"
NAMES = {"光明科学城": "Guangming Science City"}


def corpus() -> list[tuple[Document, CommitmentsArtifact]]:
    docs = [
        make_document(MEETING_2021, doc_id="m2021", meta=DocumentMeta(date=dt.date(2021, 2, 20))),
        make_document(VISIT_2023, doc_id="v2023", meta=DocumentMeta(date=dt.date(2023, 9, 19))),
        make_document(
            REPORT_2020, doc_id="r2020", meta=DocumentMeta(title_zh="2020年政府工作报告")
        ),
    ]
    return [(doc, rules_artifact(doc)) for doc in docs]


def rules_artifact(doc: Document) -> CommitmentsArtifact:
    """What the rules_en strategy stores: the concrete tier with English, the rest marked."""
    found = detect(doc.text)
    concrete = {id(c) for c in concrete_candidates(doc.text, found)}
    records: list[Commitment] = []
    for c in found:
        english = f"English for {c.quote}." if id(c) in concrete else NOT_RENDERED
        extracted = candidate_to_extracted(c).model_copy(
            update={"action_en": english, "gloss_en": english}
        )
        records += ground_commitments(
            doc.id, doc.text, doc.paragraphs, [extracted], chunk_id="c0", source="rules",
            within=(c.start, c.end),
        )  # fmt: skip
    report = GroundingReport(
        extracted=len(records), shown=len(records), unaligned=0, grounding_rate=1.0,
        checks_failed=0,
    )  # fmt: skip
    return CommitmentsArtifact(
        doc_id=doc.id, status="ok", commitments=records, unaligned=[],
        chunks=[ChunkOutcome(chunk_id="c0", status="ok")], grounding=report,
        provenance=provenance("commitments", warning=None),
    )  # fmt: skip


def tracker() -> Tracker:
    return build_tracker(corpus(), NAMES)


def test_entities_are_linked_across_documents_and_scripts() -> None:
    t = tracker()
    assert [(e.key, e.documents) for e in t.entities[:2]] == [
        ("光明科学城", 3),
        ("深港科技创新合作区", 2),
    ]
    city = t.entity("光明科學城")  # either script, or the id
    assert city is not None and city == t.entity(entity_id("光明科学城"))
    assert (city.name_en, city.name_source) == ("Guangming Science City", "glossary")
    assert "光明科學城" in city.forms and "光明科学城" in city.forms
    zone = t.entity("河套深港科技创新合作区")
    assert zone is not None and (zone.name_en, zone.name_source) == (None, "none")
    assert t.entity("不存在的园区") is None


def test_an_entitys_commitments_come_by_document_date_each_with_how_it_is_linked() -> None:
    about = tracker().about("光明科学城")
    assert [c.doc_id for c in about] == ["r2020", "m2021", "v2023", "v2023"]
    assert about[0].year == 2020 and about[0].doc_date is None  # the year of the title
    vias = {(c.quote, link.via) for c in about for link in c.entities if link.key == "光明科学城"}
    assert ("要著力優化光明科學城建設體制機制", "name") in vias
    assert ("推动设施互联、服务共享", "sentence") in vias
    assert ("加快光明云谷、光明小镇等重大项目建设", "section") in vias
    assert all(c.tier == "concrete" and c.english_status == "rendered" for c in about)
    assert about[1].english == "English for 要著力優化光明科學城建設體制機制."


def test_concrete_commitments_come_first_within_a_document() -> None:
    report = [c for c in tracker().commitments if c.doc_id == "r2020"]
    assert [c.tier for c in report][-1] == "general" and report[-1].quote == GENERAL
    assert report[-1].english is None and report[-1].english_status == "not_rendered"
    assert report[-1].entities == []


def _translated(doc: Document, english: dict[str, str]) -> TranslationArtifact:
    paragraphs = [
        TranslatedParagraph(id=p.id, zh=p.text, en=english.get(p.id), chunk_id="c0",
                            error=None if p.id in english else "the chunk failed")
        for p in doc.paragraphs
    ]  # fmt: skip
    rows = [(t.id, t.zh, t.en) for t in paragraphs]
    return TranslationArtifact(
        doc_id=doc.id, status="ok", paragraphs=paragraphs,
        chunks=[ChunkOutcome(chunk_id="c0", status="ok")],
        quality=translation_report(rows, terms_for, expected_ids=list(english)),
        provenance=provenance("translate", warning=None),
    )  # fmt: skip


def test_without_english_of_its_own_a_commitment_takes_its_sentences_translation() -> None:
    docs = corpus()
    report, artifact = docs[2]
    p2, p3 = report.paragraphs[1], report.paragraphs[2]
    english = {
        # As many sentences as the Chinese: the quote's sentence is taken.
        p2.id: "Build Guangming Science City to high standards. Adhere to planning, and speed "
        "up major projects such as Guangming Cloud Valley and Guangming Town.",
        # Two English sentences for one Chinese: the whole paragraph, never a guess.
        p3.id: "We will keep working hard. We will speed up cross-border medical services.",
    }
    missing = [
        c.model_copy(update={"gloss_en": "(English missing: the answer drops 5)"})
        if c.paragraph_id == p2.id else c
        for c in artifact.commitments
    ]  # fmt: skip
    docs[2] = (report, artifact.model_copy(update={"commitments": missing}))
    built = build_tracker(docs, NAMES, {report.id: _translated(report, english)})
    quote = "加快光明云谷、光明小镇等重大项目建设"
    projects = next(c for c in built.commitments if c.quote == quote)
    assert projects.english_status == "translation"
    assert projects.english == english[p2.id].split(". ")[1]
    assert projects.english_shown().endswith("(from the paragraph's translation)")
    general = next(c for c in built.commitments if c.quote == GENERAL)
    assert (general.english, general.english_status) == (english[p3.id], "translation")
    # A paragraph the translation failed gives nothing: the marker stays.
    untranslated = {p2.id: english[p2.id]}
    built = build_tracker(docs, NAMES, {report.id: _translated(report, untranslated)})
    general = next(c for c in built.commitments if c.quote == GENERAL)
    assert general.english is None and general.english_status == "not_rendered"


PARA_ZH = "坚持民生优先。新增幼儿园学位2万个以上，新建中小学20所。推进健康深圳建设，完善医疗体系。"
PARA_EN = (
    "We will put people's wellbeing first and act on it. We will add over 20,000 kindergarten "
    "places. We will build 20 new schools. We will advance Healthy Shenzhen. We will improve "
    "the medical system."
)


def test_the_english_of_a_quote_is_its_sentence_not_the_paragraph() -> None:
    def of(quote: str) -> str:
        start = PARA_ZH.index(quote)
        return translated_sentence(PARA_ZH, PARA_EN, start, start + len(quote))

    # 3 Chinese sentences, 5 English ones: the one holding the quote's number...
    assert of("新增幼儿园学位2万个以上") == "We will add over 20,000 kindergarten places."
    # ...else those at the quote's sentence's place in the paragraph.
    assert (
        of("完善医疗体系")
        == "We will advance Healthy Shenzhen. We will improve the medical system."
    )
    # As many sentences on both sides: the one of the same rank.
    assert translated_sentence("甲。乙。", "A one. B two.", 3, 4) == "B two."


def test_a_stored_model_name_in_someone_elses_pinyin_is_not_shown() -> None:
    docs = corpus()
    report, artifact = docs[2]
    names = {"光明云谷": "Tongxin Cloud Valley", "光明小镇": "Guangming Town"}
    docs[2] = (report, artifact.model_copy(update={"entity_names": names}))
    built = build_tracker(docs, NAMES)
    valley, town = built.entity("光明云谷"), built.entity("光明小镇")
    assert valley is not None and (valley.name_en, valley.name_source) == (None, "none")
    assert town is not None and (town.name_en, town.name_source) == ("Guangming Town", "model")
    # Names made by the task since the check are not checked again (pypinyin not imported).
    checked = artifact.model_copy(update={"entity_names": names, "names_checked": True})
    docs[2] = (report, checked)
    valley = build_tracker(docs, NAMES).entity("光明云谷")
    assert valley is not None and valley.name_en == "Tongxin Cloud Valley"


def test_entity_page_lists_quote_english_and_a_link_to_the_paragraph() -> None:
    t = tracker()
    city = t.entity("光明科学城")
    assert city is not None
    page = entity_page(t, city)
    assert page.startswith("# Guangming Science City (光明科学城)")
    assert (
        "| 要著力優化光明科學城建設體制機制 | English for 要著力優化光明科學城建設體制機制. |"
        in page
    )
    assert "(../docs/m2021.md#p1)" in page and "(../docs/r2020.md#p2)" in page
    assert "2020 (year of the title)" in page and "2021-02-20" in page
    listing = tracker_page(t)
    assert f"[Guangming Science City (光明科学城)](entities/{city.id}.md)" in listing


def _bundles() -> list[DocumentBundle]:
    return [DocumentBundle(document=d, commitments=a) for d, a in corpus()]


def test_the_site_has_the_tracker_entity_pages_json_and_also_in(tmp_path: Path) -> None:
    files = render_site(
        _bundles(), glossary_terms=[("光明科学城", "Guangming Science City", "test")],
        generated_at=GENERATED_AT, reader_version=READER_VERSION,
    )  # fmt: skip
    city = entity_id("光明科学城")
    assert {"tracker.md", "data/tracker.json", f"entities/{city}.md"} <= set(files)
    data = json.loads(files["data/tracker.json"])
    assert data["entities"][0]["key"] == "光明科学城"
    page = files["docs/m2021.md"]
    also = page[page.index("## Also in") :]
    assert f"(../entities/{city}.md)" in also and "(../docs/r2020.md)" in also
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert check_links(sorted(tmp_path.rglob("*.md"))) > 10


def test_a_document_page_without_a_tracker_has_no_also_in() -> None:
    b = _bundles()[0]
    page = document_page(b, generated_at=GENERATED_AT, reader_version=READER_VERSION)
    assert "## Also in" not in page
    tracked = site_tracker([b], [])
    assert "## Also in" not in document_page(
        b, generated_at=GENERATED_AT, reader_version=READER_VERSION, tracker=tracked
    )  # one document: nowhere else to be


def _store(settings: Settings) -> None:
    store = Store(settings.db_url)
    library = Library(settings, store)
    for doc, artifact in corpus():
        store.save_document(doc)
        library.save_artifact(artifact, "rules_en")
    store.close()


def test_the_tracker_is_built_again_only_when_what_it_reads_changed(settings: Settings) -> None:
    _store(settings)
    store = Store(settings.db_url)
    library = Library(settings, store)
    first = library.tracker()
    assert library.tracker() is first  # nothing changed: the same tracker, not rebuilt
    doc, artifact = corpus()[0]
    dropped = artifact.model_copy(update={"commitments": artifact.commitments[:1]})
    library.save_artifact(dropped, "rules_en")  # replaced: a new tracker
    second = library.tracker()
    assert second is not first and len(second.commitments) == len(first.commitments) - (
        len(artifact.commitments) - 1
    )
    store.delete_document(doc.id)
    assert {c.doc_id for c in library.tracker().commitments} == {"v2023", "r2020"}
    store.close()


def test_cli_tracker_lists_entities_most_linked_first(settings: Settings) -> None:
    _store(settings)
    result = CliRunner().invoke(app, ["tracker"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0].split("\t")
    assert first[:4] == ["3", "4", "4", "光明科学城"] and first[4] == "Guangming Science City"


def test_cli_tracker_json_answers_quickly(settings: Settings) -> None:
    _store(settings)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["tracker", "--json"])
    assert time.perf_counter() - started < 2.0
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["entities"][0]["key"] == "光明科学城"
    assert {c["doc_id"] for c in payload["commitments"]} == {"m2021", "v2023", "r2020"}


def test_cli_tracker_one_entity_and_an_unknown_one(settings: Settings) -> None:
    _store(settings)
    result = CliRunner().invoke(app, ["tracker", "--entity", "河套", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["entity"]["key"] == "深港科技创新合作区"
    assert [c["doc_id"] for c in payload["commitments"]] == ["r2020", "r2020", "v2023", "v2023"]
    missing = CliRunner().invoke(app, ["tracker", "--entity", "不存在的园区"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
