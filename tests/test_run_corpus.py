"""The corpus runner (service/run/corpus.py): concurrent tasks, resuming from the cache,
outcomes, ledger totals, the site; its progress displays and the dry-run estimate."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import respx

from service.artifacts import ArtifactKind
from service.chunk import chunk_document
from service.config import Settings
from service.errors import InputError
from service.ingest import ingest_path
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.models import Document
from service.reader import Reader
from service.run.corpus import (
    RunOptions,
    RunPlan,
    RunReport,
    TaskOutcome,
    collect,
    parse_kinds,
    run_batch,
)
from service.run.progress import PlainProgress, Tally
from service.tasks.context import ProgressEvent
from tests.fakes import CHAT, Configure, CorpusModel, PlainTextModel
from tests.samples import check_links, write_docs


class Recorder:
    """An Observer that keeps everything it is told."""

    def __init__(self) -> None:
        self.plan: RunPlan | None = None
        self.events: list[ProgressEvent] = []
        self.outcomes: list[TaskOutcome] = []

    def planned(self, plan: RunPlan) -> None:
        self.plan = plan

    def chunk(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def finished(self, outcome: TaskOutcome) -> None:
        self.outcomes.append(outcome)


async def _run(
    settings: Settings,
    model: CorpusModel | PlainTextModel,
    docs: Path,
    out: Path,
    options: RunOptions | None = None,
    observer: Recorder | None = None,
) -> RunReport:
    with respx.mock(assert_all_called=False) as router:
        router.post(CHAT).mock(side_effect=model.handle)
        return await run_batch(
            settings, [docs], out, options or RunOptions(), observer or Recorder()
        )


def _statuses(report: RunReport) -> dict[tuple[str, str], str]:
    return {(o.source, o.kind): o.status for o in report.outcomes}


# --- a whole run ----------------------------------------------------------------------------


async def test_full_run_is_ok_and_a_second_run_makes_no_model_call(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out, model = write_docs(tmp_path / "docs"), tmp_path / "site", CorpusModel()
    observer = Recorder()
    first = await _run(run_settings, model, docs, out, observer=observer)
    assert set(_statuses(first).values()) == {"ok"} and len(first.outcomes) == 9
    assert first.exit_code == 0
    assert observer.plan is not None and max(observer.plan.units.values()) > 1  # several chunks
    assert first.ledger.calls == sum(model.seen.values()) > 9
    assert first.ledger.tokens_in > 0 and first.ledger.cost_usd > 0
    assert all(n == 1 for n in model.seen.values())  # no request was paid twice

    model.reset()
    second = await _run(run_settings, model, docs, out)
    assert sum(model.seen.values()) == 0
    assert second.ledger.calls == 0 and second.exit_code == 0
    assert all(o.reused for o in second.outcomes)


async def test_interrupted_run_resumes_with_only_the_remaining_requests(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", ("a.txt", "b.txt"))
    # Reference: how many requests a clean run needs, in a database of its own.
    reference = CorpusModel()
    elsewhere = run_settings.model_copy(update={"cache_dir": tmp_path / "ref"})
    await _run(elsewhere, reference, docs, tmp_path / "ref-site")

    dropped = CorpusModel(fail_after=5)  # the endpoint goes away after 5 answers
    first = await _run(run_settings, dropped, docs, tmp_path / "site")
    assert "failed" in _statuses(first).values() and first.exit_code == 1
    assert any("connection" in (o.reason or "") for o in first.outcomes)
    answered = set(dropped.answered)
    assert len(answered) == 5

    healthy = CorpusModel()
    second = await _run(run_settings, healthy, docs, tmp_path / "site")
    assert set(_statuses(second).values()) == {"ok"}
    assert not answered & set(healthy.seen)  # nothing answered before is asked again
    assert all(n == 1 for n in healthy.seen.values())
    assert set(healthy.seen) | answered == set(reference.seen)
    assert len(healthy.seen) == len(reference.seen) - 5


async def test_failed_chunk_makes_the_task_partial_and_shows_on_the_page(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs"), tmp_path / "site"
    report = await _run(run_settings, CorpusModel(refuse_when="老旧小区"), docs, out)
    statuses = _statuses(report)
    assert statuses["b.txt", "translation"] == "partial"
    assert statuses["a.txt", "translation"] == "ok"
    assert report.exit_code == 1
    outcome = next(o for o in report.outcomes if (o.source, o.kind) == ("b.txt", "translation"))
    assert outcome.reason is not None and "refused" in outcome.reason
    page = next(p for p in report.site_files if p.suffix == ".md" and outcome.doc_id in p.name)
    text = page.read_text("utf-8")
    assert "refused" in text.split("</details>")[0]  # the reason, folded away at the top
    assert "could not be translated" in text and "⚠ not translated" in text
    index = (out / "index.md").read_text("utf-8")
    assert "paragraphs not translated" in index and "refused" not in index


async def test_a_partial_artifact_is_retried_on_the_next_run(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs", ("b.txt",)), tmp_path / "site"
    refusing = CorpusModel(refuse_when="老旧小区")
    await _run(run_settings, refusing, docs, out)
    refused = {k for k in refusing.seen}
    healthy = CorpusModel()
    report = await _run(run_settings, healthy, docs, out)
    assert set(_statuses(report).values()) == {"ok"}
    # Only the refused requests (not cached) went out again; the good chunks came from cache.
    assert set(healthy.seen) <= refused and 0 < len(healthy.seen) < len(refused)


async def test_a_deterministic_model_s_partial_artifact_is_kept_until_forced(
    run_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded model answers the same at temperature 0: asking again only repeats the
    # failure, so a re-run reuses what is stored (0 model calls) and --force retries it.
    profile = PROFILES[run_settings.profile or "gpt-4o-mini"]
    monkeypatch.setitem(PROFILES, profile.name, replace(profile, deterministic=True))
    docs, out = write_docs(tmp_path / "docs", ("b.txt",)), tmp_path / "site"
    await _run(run_settings, CorpusModel(refuse_when="老旧小区"), docs, out)
    again = CorpusModel()
    report = await _run(run_settings, again, docs, out)
    assert not again.seen and "partial" in set(_statuses(report).values())
    assert all(o.reused for o in report.outcomes)
    forced = RunOptions(force=frozenset({"translation"}))
    report = await _run(run_settings, CorpusModel(), docs, out, forced)
    assert _statuses(report)["b.txt", "translation"] == "ok"


async def test_force_recomputes_from_cached_calls(run_settings: Settings, tmp_path: Path) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt",)), tmp_path / "site"
    await _run(run_settings, CorpusModel(), docs, out)
    model = CorpusModel()
    options = RunOptions(tasks=("translation",), force=frozenset({"translation"}))
    report = await _run(run_settings, model, docs, out, options)
    (outcome,) = report.outcomes
    assert not outcome.reused and outcome.status == "ok"
    assert outcome.cache_hits > 0 and outcome.calls == 0  # re-assembled from the call cache
    assert sum(model.seen.values()) == 0


async def test_bad_files_are_reported_and_the_run_goes_on(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", ("a.txt",))
    (docs / "empty.txt").write_text("   \n", encoding="utf-8")
    (docs / "copy.txt").write_text((docs / "a.txt").read_text("utf-8"), encoding="utf-8")
    report = await _run(run_settings, CorpusModel(), docs, tmp_path / "site")
    assert [Path(f.path).name for f in report.ingest_failures] == ["empty.txt"]
    assert report.ingest_failures[0].reason
    assert [Path(p).name for p, _ in report.duplicates] == ["copy.txt"]
    assert report.documents == 1 and set(_statuses(report).values()) == {"ok"}
    assert report.exit_code == 1


async def test_tasks_option_runs_only_those_and_keeps_stored_ones_on_the_site(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt",)), tmp_path / "site"
    await _run(run_settings, CorpusModel(), docs, out, RunOptions(tasks=("summary",)))
    model = CorpusModel()
    report = await _run(run_settings, model, docs, out, RunOptions(tasks=("commitments",)))
    assert [o.kind for o in report.outcomes] == ["commitments"]
    assert set(model.tasks) <= {"commitments", "commitments_recall"}
    index = json.loads((out / "data" / "index.json").read_text("utf-8"))
    tasks = index["documents"][0]["tasks"]
    assert tasks["summary"]["status"] == "ok" and tasks["translation"]["status"] == "not_run"


# --- the site -------------------------------------------------------------------------------


async def test_site_files_links_and_export_offsets(run_settings: Settings, tmp_path: Path) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt", "c.txt")), tmp_path / "site"
    report = await _run(run_settings, CorpusModel(), docs, out)
    names = sorted(str(p.relative_to(out)) for p in report.site_files)
    assert {"index.md", "glossary.md", "commitments.md", "data/index.json"} <= set(names)
    assert sum(n.startswith("docs/") for n in names) == 2
    assert sum(n.startswith("data/") for n in names) == 4  # index, two documents, tracker
    assert "tracker.md" in names and "data/tracker.json" in names  # `make site` writes it
    _check_links(out)
    checked = 0
    for path in sorted((out / "data").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        if "document" not in data:
            continue
        text = data["document"]["text"]
        for c in data["commitments"]["commitments"]:
            assert text[c["start"] : c["end"]] == c["quote"]
            checked += 1
        for p in data["document"]["paragraphs"]:
            assert text[p["start"] : p["end"]] == p["text"]
    assert checked >= 2
    glossary = (out / "glossary.md").read_text("utf-8")
    assert "Greater Bay Area" in glossary  # a term the corpus uses


async def test_a_run_writes_into_out_only(run_settings: Settings, tmp_path: Path) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt",)), tmp_path / "site"
    cache = run_settings.cache_dir  # the store: written where the settings say
    before = _snapshot(tmp_path, cache)
    report = await _run(run_settings, CorpusModel(), docs, out)
    assert report.site_files and all(out in p.parents for p in report.site_files)
    changed = {p for p, stamp in _snapshot(tmp_path, cache).items() if before.get(p) != stamp}
    assert changed and all(out in p.parents for p in changed)  # no mkdocs.yml beside it


def _snapshot(root: Path, skip: Path) -> dict[Path, tuple[int, int]]:
    """(mtime, size) of every file under ``root`` except those under ``skip``."""
    files = (p for p in root.rglob("*") if p.is_file() and skip not in p.parents)
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files}


def _check_links(out: Path) -> None:
    assert check_links(sorted(out.rglob("*.md"))) > 10


# --- planning and progress ------------------------------------------------------------------


def test_parse_kinds() -> None:
    assert parse_kinds("translation, summary") == ("summary", "translation")
    with pytest.raises(InputError, match="unknown task"):
        parse_kinds("summary,translate")
    with pytest.raises(InputError):
        parse_kinds(" , ")


def test_collect_with_no_files_is_an_input_error(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.txt, \.html, \.pdf or \.docx files"):
        collect([tmp_path / "empty"], lambda p: ingest_path(p, settings=settings))


async def test_prefill_seam_runs_before_the_tasks(run_settings: Settings, tmp_path: Path) -> None:
    docs, calls = write_docs(tmp_path / "docs", ("a.txt",)), []
    model = CorpusModel()

    class Report:
        def summary(self) -> str:
            return "Batch API: 1 round(s)"

    async def prefill(reader: Reader, documents: list[Document], kinds: list[str]) -> Report:
        calls.append(([d.source_name for d in documents], kinds, sum(model.seen.values())))
        return Report()

    options = RunOptions(tasks=("summary",), prefill=prefill)
    report = await _run(run_settings, model, docs, tmp_path / "site", options)
    assert calls == [(["a.txt"], ["summary"], 0)]
    assert report.notes == ["Batch API: 1 round(s)"]  # its summary line is shown


def test_plain_progress_writes_task_lines_and_throttles_chunk_lines(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    display = PlainProgress(stream, min_interval_s=3600)
    for i in range(1, 6):
        display.chunk(ProgressEvent("d1", "translation", i, 5, tokens=10))
    display.chunk(ProgressEvent("d1", "translation", 5, 5, failed=True))
    outcome = TaskOutcome(doc_id="d1", source="a.txt", kind="translation", status="partial")
    display.finished(outcome)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # the first chunk, the failure, the task
    assert "FAILED" in lines[1] and lines[2].startswith("a.txt translation partial")
    assert "tokens 50" in lines[2]


def test_tally_counts_and_eta() -> None:
    tally = Tally()
    tally.units = {("d1", "translation"): (0, 4), ("d2", "translation"): (0, 4)}
    tally.pending, tally.docs_total = {"d1": 1, "d2": 1}, 2
    tally.chunk(ProgressEvent("d1", "translation", 2, 4, cached=True, tokens=7))
    assert (tally.chunks_done, tally.chunks_total, tally.hits, tally.tokens) == (2, 8, 1, 7)
    assert tally.eta() is not None
    done = TaskOutcome(doc_id="d1", source="a", kind="translation", status="ok", tokens=90)
    tally.finished(done.model_copy(update={"cache_hits": 3}))
    assert tally.docs_done == 1 and tally.chunks_done == 4
    assert (tally.tokens, tally.hits) == (90, 3)  # the task's provenance completes its events


def test_rich_progress_draws_documents_chunks_and_problems(settings: Settings) -> None:
    import io

    from rich.console import Console

    from service.ingest import ingest_bytes
    from service.run.progress import RichProgress

    doc = ingest_bytes("会议要求抓好落实。\n".encode(), "a.txt", settings=settings)
    plan = RunPlan([doc], ("translation",), {(doc.id, "translation"): 2}, frozenset())
    screen = io.StringIO()
    with RichProgress(Console(file=screen, force_terminal=True, width=120)) as display:
        display.planned(plan)
        display.chunk(ProgressEvent(doc.id, "translation", 1, 2, tokens=30))
        failed = TaskOutcome(doc_id=doc.id, source="a.txt", kind="translation", status="partial")
        display.finished(failed.model_copy(update={"reason": "1 of 2 chunks failed: [refused]"}))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # drop terminal codes
    assert "documents" in text and "chunks" in text and "2/2" in text
    assert "a.txt translation: partial — 1 of 2 chunks failed: [refused]" in text


# --- the dry-run estimate -------------------------------------------------------------------


def test_estimate_follows_the_profile_chunks_and_prices(
    run_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.llm.profiles import PROFILES
    from service.run.estimate import TRANSLATION_RATIO, estimate

    docs = write_docs(tmp_path / "docs", ("a.txt",))
    doc = ingest_path(docs / "a.txt", settings=run_settings)
    est = estimate(run_settings, [doc], ("summary", "translation", "commitments"))
    rows = {r.kind: r for r in est.rows}
    assert est.profile == "gpt-4o-mini" and est.budget == 40
    assert rows["translation"].calls == rows["translation"].chunks > 1  # one call per chunk
    assert rows["commitments"].calls == rows["commitments"].chunks
    assert rows["summary"].calls == 1  # a short document fits one call
    # Output of a translation ≈ 1.3 × its source tokens; prompts carry the template on top.
    source = sum(c.tokens for c in chunk_document(doc.text, doc.paragraphs, 40))
    assert rows["translation"].output_tokens == pytest.approx(source * TRANSLATION_RATIO, rel=0.1)
    assert rows["translation"].prompt_tokens > source + 100 * rows["translation"].calls
    profile = PROFILES["gpt-4o-mini"]
    r = rows["commitments"]
    assert r.cost_usd == pytest.approx(profile.cost(r.prompt_tokens, r.output_tokens))
    batch = estimate(run_settings, [doc], ("translation",), batch_api=True)
    assert batch.cost_usd == pytest.approx(rows["translation"].cost_usd / 2)


def _long_document(settings: Settings, tmp_path: Path, paragraphs: int = 10) -> Document:
    """A title and ten (or more) long paragraphs: several chunks at a local model's budget."""
    long_text = "\n\n".join(
        ["会议要求，各区各部门要抓好落实，确保各项任务按期完成。" * 12] * paragraphs
    )
    path = tmp_path / "long.txt"
    path.write_text("长文件\n\n" + long_text + "\n", encoding="utf-8")
    return ingest_path(path, settings=settings)


def test_estimate_without_an_endpoint_uses_the_local_profile_and_its_prompts(
    settings: Settings, tmp_path: Path
) -> None:
    from service.llm.profiles import LOCAL_MODEL_NAME, LOCAL_PROFILE, PROFILES
    from service.run.estimate import SHARED_TRANSLATION, estimate

    doc = _long_document(settings, tmp_path)
    est = estimate(settings, [doc], ("summary", "translation"))
    budget = PROFILES[LOCAL_PROFILE].chunk_budget
    assert (est.profile, est.model, est.budget) == (LOCAL_PROFILE, LOCAL_MODEL_NAME, budget)
    assert est.cost_usd == 0.0  # a local model costs nothing per token
    rows = {r.kind: r for r in est.rows}
    assert rows["summary"].chunks > 1
    assert rows["translation"].calls == len(doc.paragraphs)  # per_unit: a call per paragraph
    # sections: the English (about 4,000 tokens) fits Qwen's 8k window: one call, after the
    # translation's calls, counted in the translation row (the same cached calls).
    assert rows["summary"].calls == 1
    assert rows["summary"].note == SHARED_TRANSLATION
    (alone,) = estimate(settings, [doc], ("summary",)).rows  # the summary then pays for them
    assert alone.calls == len(doc.paragraphs) + 1
    assert alone.prompt_tokens == rows["summary"].prompt_tokens + rows["translation"].prompt_tokens


def test_estimate_of_a_json_summary_beyond_the_window_maps_each_chunk_then_reduces(
    settings: Settings, tmp_path: Path
) -> None:
    from service.run.estimate import estimate

    doc = _long_document(settings, tmp_path, paragraphs=30)  # more than Qwen's 8k window
    pinned = settings.model_copy(update={"prompt_versions": {"summary": "v1"}})
    (row,) = estimate(pinned, [doc], ("summary",)).rows
    assert row.chunks > 1 and row.calls == row.chunks + 1  # map each chunk, then one reduce
    assert row.cost_usd == 0.0  # a local model costs nothing per token


# The embedded Qwen's plain-text strategies over the mocked endpoint: a short readout with two
# concrete pledges, its English, a summary in sections and the pledges' sentences.
QWEN_DOC = (
    "深圳市推进先行示范区建设领导小组会议召开\n\n"
    "会议审议通过了深圳市推进粤港澳大湾区建设2021年工作要点。\n\n"
    "会议强调，要增强“四个意识”。力争年底前开工建设自由电子激光科学装置。\n\n"
    "确保新增基础教育学位21万个。\n"
)
QWEN_ENGLISH = {
    "深圳市推进先行示范区建设领导小组会议召开": "Meeting of the Shenzhen Leading Group for "
    "the Pilot Demonstration Zone",
    "会议审议通过了深圳市推进粤港澳大湾区建设2021年工作要点。": "The meeting approved "
    "Shenzhen's 2021 work points for building the Greater Bay Area.",
    "会议强调，要增强“四个意识”。力争年底前开工建设自由电子激光科学装置。": "The meeting "
    'stressed the "four consciousnesses". The city will strive to start building the '
    "free-electron laser facility before the end of the year.",
    "确保新增基础教育学位21万个。": "The city will ensure 210,000 new basic-education places.",
}
QWEN_SENTENCES = {
    "自由电子激光": "Shenzhen will strive to start building the free-electron laser facility "
    "by the end of the year.",
    "基础教育学位": "Shenzhen will ensure 210,000 new basic-education school places.",
}
SECTIONS_ANSWER = """HEADLINE: Shenzhen leading group approves its 2021 Greater Bay Area work points
ABSTRACT: Shenzhen's leading group for the Pilot Demonstration Zone met. It approved the city's 2021 work points for the Greater Bay Area. It plans a free-electron laser facility and 210,000 new school places.
KEY POINTS:
- The 2021 Greater Bay Area work points were approved
- Building of a free-electron laser facility is to start this year
- 210,000 new basic-education places are to be added
BODY: Shenzhen Leading Group for the Pilot Demonstration Zone
DATE: none
PLACE: Shenzhen
WHO: none"""  # noqa: E501


@pytest.fixture
def qwen_settings(remote_settings: Settings, configure: Configure) -> Settings:
    """The embedded Qwen's profile (its chat prompts and budgets) on the mocked endpoint."""
    return configure(READER_PROFILE=LOCAL_PROFILE, READER_MAX_RETRIES="0")


@pytest.mark.parametrize("tasks", [("summary",), ("summary", "translation", "commitments")])
async def test_the_estimate_counts_the_calls_a_qwen_run_makes(
    qwen_settings: Settings, tmp_path: Path, tasks: tuple[ArtifactKind, ...]
) -> None:
    from service.run.estimate import OWN_TRANSLATION, SHARED_TRANSLATION, estimate

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "readout.txt").write_text(QWEN_DOC, encoding="utf-8")
    doc = ingest_path(docs / "readout.txt", settings=qwen_settings)
    est = estimate(qwen_settings, [doc], tasks)
    model = PlainTextModel(QWEN_ENGLISH, QWEN_SENTENCES, SECTIONS_ANSWER)
    report = await _run(qwen_settings, model, docs, tmp_path / "site", RunOptions(tasks=tasks))
    assert {o.kind: o.status for o in report.outcomes} == dict.fromkeys(tasks, "ok")
    rows = {r.kind: r for r in est.rows}
    translation_calls = model.tasks["translate"]
    assert translation_calls == len(doc.paragraphs)  # per_unit, paid once for both tasks
    assert est.calls == sum(model.tasks.values()), (est.rows, model.tasks)
    if "translation" in tasks:
        assert rows["translation"].calls == translation_calls
        assert rows["summary"].calls == model.tasks["summary"] == 1
        assert rows["summary"].note == SHARED_TRANSLATION
        assert rows["commitments"].calls == model.tasks["commitments"] == 2  # rules_en
    else:
        assert rows["summary"].calls == translation_calls + model.tasks["summary"]
        assert rows["summary"].note == OWN_TRANSLATION


async def test_the_estimate_cuts_english_too_long_for_the_window_into_parts_as_a_run_does(
    qwen_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from service.llm.profiles import PROFILES
    from service.run.estimate import estimate

    small = dataclasses.replace(PROFILES[LOCAL_PROFILE], context_window=3500)
    monkeypatch.setitem(PROFILES, LOCAL_PROFILE, small)
    # Ten long paragraphs, each its own (no two requests alike: the cache would answer one).
    districts = ["福田", "罗湖", "南山", "盐田", "宝安", "龙岗", "龙华", "坪山", "光明", "大鹏"]
    paragraph = "{}区会议要求，各部门要抓好落实，确保各项任务按期完成。" * 12
    text = "\n\n".join(paragraph.format(*[d] * 12) for d in districts)
    (tmp_path / "long.txt").write_text("长文件\n\n" + text + "\n", encoding="utf-8")
    doc = ingest_path(tmp_path / "long.txt", settings=qwen_settings)  # no numbers in it
    (row,) = estimate(qwen_settings, [doc], ("summary",)).rows
    model = PlainTextModel(summary=SECTIONS_ANSWER)  # English of 1.3 × each unit's tokens
    options = RunOptions(tasks=("summary",))
    report = await _run(qwen_settings, model, tmp_path, tmp_path / "site", options)
    assert [o.status for o in report.outcomes] == ["ok"]
    parts = model.tasks["summary"] - 1
    assert parts > 1, model.tasks  # the English did not fit: parts, then their notes
    assert row.calls == model.tasks["translate"] + parts + 1, (row, model.tasks)
