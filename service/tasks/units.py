"""Plain-text, one-unit-per-call prompting, shared by the per-unit translation and the
``rules_en`` commitments: the unit's variables, the answer's checks, and the prompt copy check.

A unit goes into the prompt as one line of text and the answer is plain English: no JSON.
"""

from __future__ import annotations

import re

from service.checks.magnitudes import hint_line
from service.checks.names import name_hints
from service.errors import ModelInvalidOutput
from service.llm.prompts import PromptTemplate
from service.tasks.context import TaskContext

# A leading list dash (the Government Work Reports' "——经济运行…" items) carries nothing to
# translate, so the unit is sent without it: the model sees only text to translate, and the
# requests (and their cache keys) stay those of the runs so far.
_LEADING_DASH = re.compile(r"^[—–―－-]+\s*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Our own delimiters (``delimit``'s <document id=…>, <context>, <p id=…>): a small instruct
# model echoes them around its answer (seen with Qwen2.5-1.5B on every unit of a seed).
_OWN_TAG = re.compile(r"</?\s*(?:document|context|p|en|zh)\b[^>]*>", re.IGNORECASE)
# A small model may repeat the prompt's worked example verbatim; shorter strings may match by
# chance.
_COPY_MIN_CHARS = 12


class MostlyChinese(ModelInvalidOutput):
    """An answer that is (mostly) Chinese: the unit echoed, or not translated."""


def one_line(text: str) -> str:
    """Whitespace collapsed: nothing in the document can start a line of its own in the prompt
    (where it could pass for a heading or an instruction of ours)."""
    return " ".join(text.split())


def unit_prompt_text(zh: str) -> str:
    """The unit as it is sent: one line, without a leading list dash."""
    return _LEADING_DASH.sub("", one_line(zh)) or one_line(zh)


def unit_variables(ctx: TaskContext, zh: str) -> dict[str, str]:
    """A per-unit template's variables for one unit: its glossary, names and numbers hint
    lines (each ending in a newline, or empty) and its text; a file uses those it declares."""
    return {
        "glossary": unit_glossary(ctx, zh),
        "names": _line(name_hints(zh, ctx.glossary)),
        "numbers": _line(hint_line(zh)),
        "text": unit_prompt_text(zh),
    }


def _line(hint: str) -> str:
    return one_line(hint) + "\n" if hint else ""


def unit_glossary(ctx: TaskContext, zh: str) -> str:
    """``Glossary: a → b; c → d`` and a newline for the terms in this unit, or nothing."""
    entries = ctx.glossary.entries_in(zh) if ctx.glossary is not None else []
    if not entries:
        return ""
    return "Glossary: " + "; ".join(one_line(f"{e.zh} → {e.en}") for e in entries) + "\n"


def english_line(text: str) -> str:
    """The answer as one line of English without our delimiters echoed; empty or mostly
    Chinese is a failed unit."""
    english = one_line(_OWN_TAG.sub(" ", text))
    if not english:
        raise ModelInvalidOutput("the model's answer was empty")
    if mostly_chinese(english):
        raise MostlyChinese(f"the model's answer is mostly Chinese: {english[:60]!r}")
    return english


def mostly_chinese(text: str) -> bool:
    """More than half of the non-space characters are Chinese."""
    return len(_CJK.findall(text)) * 2 > len(text.replace(" ", ""))


def chinese_left(text: str) -> list[str]:
    """The runs of Chinese characters in an English answer."""
    return re.findall(rf"{_CJK.pattern}+", text)


def in_prompt(tpl: PromptTemplate, text: str) -> bool:
    """``text`` (12+ characters) occurs verbatim in one of the prompt file's messages (where
    a prompt keeps its worked example)."""
    found = text.strip()
    return len(found) >= _COPY_MIN_CHARS and any(found in m.content for m in tpl.sections)
