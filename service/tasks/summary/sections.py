"""The ``sections`` strategy: a small instruct model summarises the document's *English*.

Asked to summarise the Chinese directly, Qwen2.5-1.5B mixed up who did what and left Chinese
in the answer; asked for JSON, it answered in Chinese. Given the English translation it wrote a
usable summary. So this strategy first runs the translation task on the same document and
chunks (its model calls are cached, so a run that also translates pays once), keeps the
translated paragraphs (it fails with the reason when fewer than ``MIN_TRANSLATED`` of the text
is translated), and asks for the labelled plain-text sections of ``sectioned.py``, parsed and
checked deterministically, with one re-ask quoting what was wrong.

When the English does not fit one request (``profile.context_window``), it is cut into parts
at paragraph boundaries (a paragraph larger than a part at sentence ends), each part is
summarised with the same prompt (the part's answer, checked the same way, is its notes), and the
notes are summarised in turn, as often as needed (``MAX_DEPTH`` rounds, then only the notes that
fit, with a warning).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from service.artifacts import ChunkOutcome, Person, Summary, SummaryArtifact, TranslationArtifact
from service.checks.names import find_people
from service.errors import ModelError, ModelInvalidOutput, ModelTruncated
from service.llm.prompts import delimit
from service.models import Chunk, Document
from service.tasks import translate as translation
from service.tasks.summary.map_reduce import MAX_DEPTH, batches, fit_note, truncate_at_sentence
from service.tasks.summary.result import artifact
from service.tasks.summary.run import TASK, UNKNOWN, SummaryRun, gather
from service.tasks.summary.sectioned import (
    Sectioned,
    check_sectioned,
    parse_sectioned,
    salvaged,
)
from service.tokens import count_tokens

if TYPE_CHECKING:
    from service.checks.glossary import Glossary
    from service.llm.gateway import CallRecord

# Share of the document's characters that must be translated to summarise it: less, and the
# summary would describe a different document.
MIN_TRANSLATED = 0.6
# Output budget: the sections are 150-350 tokens; room to spare for a wordy model.
SECTIONS_OUTPUT = 700
# What the request says the text in <document> is: the whole English, a part of it (a round
# of notes), or the notes on the parts.
WHOLE = "The document's English translation"
PART = "Part {i} of {n} of the document's English translation (round {level})"
NOTES = "Notes on {n} consecutive parts of the document's English translation"
# Share of a request's room filled with material: headroom for our token count's error.
FILL = 0.9
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")


async def summarize_sections(run: SummaryRun, chunks: list[Chunk]) -> SummaryArtifact:
    """Translate, then summarise the English (in parts when it does not fit)."""
    english = _english_paragraphs(run, await translation.translate(run.doc, chunks, run.ctx))
    if isinstance(english, ChunkOutcome):
        return artifact(run, None, "sections", [english], [])
    run.meta = english_meta(run.doc, run.ctx.glossary)
    texts, outcomes, what = await _fit(run, english)
    if not texts:
        return artifact(run, None, "sections", outcomes, [])
    run.total += 1
    try:
        answer = await ask(run, what, "\n\n".join(texts))
    except ModelError as exc:
        outcomes.append(ChunkOutcome(chunk_id="document", status="failed", error=exc.message))
        return artifact(run, None, "sections", outcomes, [])
    outcomes.append(ChunkOutcome(chunk_id="document", status="ok"))
    return artifact(run, to_summary(run, answer), "sections", outcomes, [])


def _english_paragraphs(run: SummaryRun, tr: TranslationArtifact) -> list[str] | ChunkOutcome:
    """The translated paragraphs' English, or the failed outcome saying why there is too little.

    Untranslated paragraphs are left out with a warning (the summary then is partial)."""
    done = [p for p in tr.paragraphs if p.en]
    missing = [p for p in tr.paragraphs if not p.en]
    total = sum(len(p.zh) for p in tr.paragraphs)
    share = sum(len(p.zh) for p in done) / total if total else 0.0
    if share < MIN_TRANSLATED:
        reasons = "; ".join(dict.fromkeys(p.error or "" for p in missing if p.error))[:300]
        error = (
            f"only {share:.0%} of the text ({len(done)} of {len(tr.paragraphs)} paragraphs) was "
            f"translated, at least {MIN_TRANSLATED:.0%} is needed to summarise it: {reasons}"
        )
        return ChunkOutcome(chunk_id="translation", status="failed", error=error)
    if missing:
        run.warnings.append(
            f"Summarised from the English of {len(done)} of {len(tr.paragraphs)} paragraphs; "
            f"untranslated: {', '.join(p.id for p in missing)}."
        )
    return _without_chinese(run, [(p.id, p.en) for p in done if p.en])


def _without_chinese(run: SummaryRun, english: list[tuple[str, str]]) -> list[str]:
    """The English with Chinese the translation left in it removed (with a warning): the model
    copies it into the summary, where it fails the English-only check (seen: "River套")."""
    left = {pid: _CJK.findall(en) for pid, en in english if _CJK.search(en)}
    if left:
        found = "; ".join(f"{pid}: {' '.join(runs)}" for pid, runs in left.items())
        run.warnings.append(f"Chinese left in the translation was not summarised ({found[:200]}).")
    return [" ".join(_CJK.sub(" ", en).split()) for _, en in english]


# --- fitting the context ------------------------------------------------------------------


async def _fit(run: SummaryRun, texts: list[str]) -> tuple[list[str], list[ChunkOutcome], str]:
    """The texts for the final call, each round of parts summarised into notes until they fit."""
    outcomes: list[ChunkOutcome] = []
    what = WHOLE
    for depth in range(MAX_DEPTH + 1):
        budget = room(run, what)
        if sum(_size(t) for t in texts) <= budget or not texts:
            return texts, outcomes, what
        if depth == MAX_DEPTH:
            break
        texts = await _notes_round(run, texts, depth + 1, outcomes)
        what = NOTES.format(n=len(texts))
    kept = batches([fit_note(run, t, budget) for t in texts], budget)[0]
    run.warnings.append(
        f"After {MAX_DEPTH} rounds of notes, {len(texts) - len(kept)} of {len(texts)} notes "
        "still did not fit the final call and were left out."
    )
    return kept, outcomes, what


def room(run: SummaryRun, what: str) -> int:
    """Tokens of material one request can carry besides this prompt and its answer."""
    probe = {**run.meta, "what": what, "document": delimit(""), "correction": ""}
    return int(run.room(TASK, probe, run.output(SECTIONS_OUTPUT)) * FILL)


def _size(text: str) -> int:
    return count_tokens(text) + 2  # the blank line between texts


async def _notes_round(
    run: SummaryRun, texts: list[str], level: int, outcomes: list[ChunkOutcome]
) -> list[str]:
    """Pack the texts into parts that fit one request; each part's checked answer is a note."""
    what = PART.replace("{level}", str(level))  # {i} and {n} are filled in per part below
    budget = room(run, what)
    parts = batches([piece for t in texts for piece in pieces(t, budget)], budget)
    run.total += len(parts)
    labels = [f"r{level}.{i + 1}" for i in range(len(parts))]
    wording = [what.format(i=i + 1, n=len(parts)) for i in range(len(parts))]
    results = await gather(
        [_note(run, w, "\n\n".join(p)) for w, p in zip(wording, parts, strict=True)]
    )
    notes = []
    for label, (note, error) in zip(labels, results, strict=True):
        status = "failed" if error else "ok"
        outcomes.append(ChunkOutcome(chunk_id=label, status=status, error=error))
        if note is not None:
            notes.append(note)
    return notes


async def _note(run: SummaryRun, what: str, text: str) -> tuple[str | None, str | None]:
    try:
        answer = await ask(run, what, text)
    except ModelError as exc:
        return None, exc.message
    points = "\n".join(f"- {p}" for p in answer.key_points)
    return f"{answer.headline}. {answer.abstract}\n{points}", None


def pieces(text: str, budget: int) -> list[str]:
    """A text larger than one part split at sentence ends into pieces that fit (none dropped)."""
    out: list[str] = []
    while count_tokens(text) > budget:
        cut = truncate_at_sentence(text, budget)
        if not cut.strip():
            break  # cannot happen with a positive budget; never loop forever
        out.append(cut)
        text = text[len(cut) :].lstrip()
    return [*out, text] if text.strip() else out


# --- one request --------------------------------------------------------------------------


async def ask(run: SummaryRun, what: str, text: str) -> Sectioned:
    """One sectioned answer, parsed and checked; one re-ask quoting what was wrong (an answer
    that ran past its budget too: a small model's runaway repetition, seen on seed 003)."""
    try:
        try:
            answer, record = await _attempt(run, what, text, "")
        except (ModelInvalidOutput, ModelTruncated) as exc:
            answer, record = await _attempt(run, what, text, reask_note(_problem(exc)))
    except ModelError:
        run.report(failed=True)
        raise
    run.report(cached=record.cached, tokens=record.tokens_in + record.tokens_out)
    return answer


async def _attempt(
    run: SummaryRun, what: str, text: str, correction: str
) -> tuple[Sectioned, CallRecord]:
    """One call's checked answer; a runaway is kept as far as it is whole and passes."""
    variables = {**run.meta, "what": what, "document": delimit(text), "correction": correction}
    try:
        result = await run.ctx.call(TASK, variables, max_tokens=run.output(SECTIONS_OUTPUT))
    except ModelTruncated as exc:
        partial = (exc.detail or {}).get("partial", "")
        if exc.call_record is None:  # not from a model call: nothing to salvage
            raise
        try:
            answer = salvaged(partial)
            check_sectioned(answer, instructions(run))
        except ModelInvalidOutput:
            raise exc from None
        return answer, exc.call_record
    answer = parse_sectioned(result.text)
    check_sectioned(answer, instructions(run))
    return answer, result.record


def _problem(exc: ModelError) -> str:
    if isinstance(exc, ModelTruncated):
        return "it ran past the length limit, repeating itself; keep every section short"
    return exc.message


def reask_note(problem: str) -> str:
    """The extra user paragraph of the one re-ask: what was wrong and the rules again."""
    return (
        f"\nYour previous answer to this request was rejected: {problem}. Answer again in "
        "English only, with no Chinese characters at all (translate every Chinese word or leave "
        "it out), in exactly the format of the instructions, summarising only the text inside "
        "<document>."
    )


def instructions(run: SummaryRun) -> str:
    """The prompt's own text (its system sections): an answer must not copy it."""
    return "\n".join(m.content for m in run.template(TASK).sections if m.role == "system")


# --- the answer as the artifact's Summary -------------------------------------------------


def to_summary(run: SummaryRun, answer: Sectioned) -> Summary:
    """``Summary`` from the sections: the editor's date wins; WHO names matched to the source."""
    meta_date = run.doc.meta.date
    return Summary(
        headline=answer.headline,
        abstract=answer.abstract,
        key_points=answer.key_points,
        body=answer.body,
        date=meta_date.isoformat() if meta_date else answer.date,
        place=answer.place,
        people=_people(run, answer.who),
    )


def _people(run: SummaryRun, who: list[tuple[str, str]]) -> list[Person]:
    """Each WHO entry whose name is one the source names (``find_people``), with its Chinese;
    the others are left out with a warning: a name the model cannot tie to the text is not
    shown as a fact."""
    found = {_key(p.pinyin): p.name for p in find_people(run.doc.text)}
    people, unknown = [], []
    for name, role in _name_lists(who, found):
        zh = found.get(_key(name))
        if zh is None:
            unknown.append(name)
        else:
            people.append(Person(name_zh=zh, name_en=name, role=role))
    if unknown:
        run.warnings.append(
            f"WHO named {', '.join(unknown)}, not among the people the source names; left out."
        )
    return people


def _name_lists(who: list[tuple[str, str]], found: dict[str, str]) -> list[tuple[str, str]]:
    """``WHO: Meng Fanli, Huang Min, Tao Yongxin`` parses as one person whose "role" is a list
    of names; when every item of it is a name the source names, they are people without roles."""
    out: list[tuple[str, str]] = []
    for name, role in who:
        names = [n.strip() for n in re.split(r",|\band\b", role)] if role else []
        if names and all(_key(n) in found for n in names):
            out += [(name, ""), *((n, "") for n in names)]
        else:
            out.append((name, role))
    return out


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


# --- the prompt's metadata, in English ------------------------------------------------------


def english_meta(doc: Document, glossary: Glossary | None) -> dict[str, str]:
    """The metadata variables without Chinese (the English in brackets kept): Chinese in the
    prompt invites Chinese in the answer."""
    m = doc.meta
    return {
        "title": english_only(m.title_en or ""),
        "date": m.date.isoformat() if m.date else UNKNOWN,
        "outlet": english_only(m.outlet or ""),
        "place": english_only(m.place or ""),
        "people": people_line(doc, glossary),
    }


def english_only(text: str) -> str:
    """``深圳 (Shenzhen), Futian`` → ``Shenzhen, Futian``; ``unknown`` when nothing is left."""
    kept = " ".join(_CJK.sub(" ", text).replace("(", " ").replace(")", " ").split())
    parts = [re.sub(r"\s+([,;])", r"\1", p).strip(" ,;") for p in kept.split("/")]
    return ", ".join(p for p in parts if p) or UNKNOWN


def people_line(doc: Document, glossary: Glossary | None) -> str:
    """The people the source names, in official pinyin, with the glossary's English for their
    titles: ``Meng Fanli (Secretary of the CPC Shenzhen Municipal Committee); Huang Min``."""
    line = []
    for person in find_people(doc.text):
        titles = [t for t in (_title(zh, glossary) for zh in person.titles) if t]
        line.append(f"{person.pinyin} ({', '.join(titles)})" if titles else person.pinyin)
    return "; ".join(line) or "none"


def _title(zh: str, glossary: Glossary | None) -> str | None:
    """The glossary's English for a title when one entry covers all of it (as the name hints)."""
    entries = glossary.entries_in(zh) if glossary is not None else []
    whole = [e.en for e in entries if (0, len(zh)) in e.positions]
    return whole[0] if whole else None
