"""What went wrong for a document, said the way a reader needs it, the technical reason apart.

A reader is told what is missing from the page ("3 of 106 paragraphs could not be translated
and are shown in Chinese"); why (the model's finish reason, the check that failed) is kept for
whoever re-runs the document, folded away on the page and never in the index.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from service.artifacts import (
    KINDS,
    ArtifactKind,
    ChunkOutcome,
    CommitmentsArtifact,
    SummaryArtifact,
    TranslationArtifact,
)
from service.render.bundle import DocumentBundle, TaskState
from service.tasks.commitments.schema import MISSING, Commitment

# translate.py keeps a sentence the model would not translate as "[sentence 2 not translated]".
_SENTENCE_LEFT = re.compile(r"\[sentence \d+ not translated\]")
_ENGLISH_MISSING = MISSING.split("{", 1)[0]  # "(English missing: "
#: What a reader sees instead of the technical "(English missing: the answer states 2027)".
NO_ENGLISH = "(no English: read the Chinese quote)"


class Problem(BaseModel):
    """One thing a reader should know is missing or doubtful."""

    short: str = Field(description="A few words for the index: '1 sentence not translated'.")
    plain: str = Field(description="A sentence for the document page.")
    technical: list[str] = Field(default_factory=list, description="Why, for whoever re-runs.")


def problems(b: DocumentBundle) -> list[Problem]:
    """Every problem of the document's tasks, in task order (summary, translation, commitments)."""
    return [p for kind in KINDS for p in task_problems(b, kind)]


def task_problems(b: DocumentBundle, kind: ArtifactKind) -> list[Problem]:
    """The problems of one task, for its section of the page."""
    if kind == "summary":
        return summary_problems(b.summary, b.state(kind))
    if kind == "translation":
        return translation_problems(b.translation, b.state(kind))
    return commitment_problems(b.commitments, b.state(kind))


def technical_details(b: DocumentBundle) -> list[str]:
    """The technical reasons of all problems, each once."""
    return list(dict.fromkeys(t for p in problems(b) for t in p.technical))


def _missing(state: TaskState, what: str) -> list[Problem]:
    """A task without any artifact: failed (with its reason) or simply not run."""
    if state.status == "not_run":
        return [Problem(short=f"no {what} (not run)", plain=f"No {what} was made for this page.")]
    technical = [f"{state.kind}: {state.reason}"] if state.reason else []
    plain = f"The {what} could not be made; try again later or with another model."
    return [Problem(short=f"no {what}", plain=plain, technical=technical)]


def _reasons(kind: str, errors: list[str]) -> list[str]:
    return [f"{kind}: {e}" for e in dict.fromkeys(errors)]


def summary_problems(a: SummaryArtifact | None, state: TaskState) -> list[Problem]:
    if a is None or a.summary is None:
        return _missing(state, "summary")
    if a.status == "ok":
        return []
    errors = [o.error or o.status for o in a.chunks if o.status != "ok"] + a.warnings
    plain = "The summary may leave out part of the document: not all of it could be summarised."
    return [Problem(short="summary incomplete", plain=plain, technical=_reasons("summary", errors))]


def translation_problems(a: TranslationArtifact | None, state: TaskState) -> list[Problem]:
    if a is None:
        return _missing(state, "translation")
    total = a.quality.paragraphs_total or len(a.paragraphs)
    untranslated = total - sum(1 for p in a.paragraphs if p.en)
    sentences = sum(len(_SENTENCE_LEFT.findall(p.en or "")) for p in a.paragraphs)
    found = []
    if untranslated:
        plain = f"{untranslated} of {_count(total, 'paragraph')} could not be translated and "
        short = f"{untranslated} of {total} paragraphs not translated"
        found.append(Problem(short=short, plain=plain + "are shown in Chinese."))
    if sentences:
        plain = f"{_count(sentences, 'sentence')} could not be translated; "
        plain += "they are marked in the English, and the Chinese is in the bilingual text."
        found.append(Problem(short=f"{_count(sentences, 'sentence')} not translated", plain=plain))
    if not found and a.status != "ok":
        found.append(Problem(short="translation incomplete", plain="Part of it may be missing."))
    return _with_reasons(found, "translation", a.chunks)


def commitment_problems(a: CommitmentsArtifact | None, state: TaskState) -> list[Problem]:
    if a is None:
        return _missing(state, "list of commitments")
    no_english = sum(1 for c in a.commitments if english_missing(c))
    failed = sum(1 for o in a.chunks if o.status == "failed")
    found = []
    if no_english:
        short = f"{_count(no_english, 'commitment')} without English"
        plain = f"{short}: the model's wording did not match the Chinese quote, which is shown."
        found.append(Problem(short=short, plain=plain))
    if failed:
        plain = f"{failed} of {_count(len(a.chunks), 'part')} of the document could not be "
        plain += "searched for commitments; the list may be incomplete."
        found.append(Problem(short="commitments incomplete", plain=plain))
    if not found and a.status != "ok":
        found.append(Problem(short="commitments incomplete", plain="The list may be incomplete."))
    return _with_reasons(found, "commitments", a.chunks)


def english_missing(c: Commitment) -> bool:
    """The model's English for this commitment failed its checks and was left out."""
    return (c.action_en or "").startswith(_ENGLISH_MISSING)


def _with_reasons(found: list[Problem], kind: str, chunks: list[ChunkOutcome]) -> list[Problem]:
    """The failed chunks' errors go with the task's first problem (once, not per problem)."""
    if found:
        found[0].technical = _reasons(
            kind, [o.error or o.status for o in chunks if o.status != "ok"]
        )
    return found


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
