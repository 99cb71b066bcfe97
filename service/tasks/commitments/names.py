"""English names for the entities the glossary lacks: glossary first, the model second.

Under the ``rules_en`` strategy, each entity a concrete commitment is about and the glossary
does not name gets ONE short plain-text call (``prompts/entity_name``; cached like every call),
checked like a commitment's English (English only, a name's length, not the prompt's example)
and for its romanisation (``romanised.foreign_pinyin``: Daoping is no pinyin of 大鹏), and
re-asked once with the reason. The names are stored in the commitments artifact, so the
tracker reads them with no model call and says which came from the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.checks.glossary import Glossary, matching_form
from service.checks.quality import check_no_cjk
from service.errors import ModelError, ModelInvalidOutput
from service.llm.prompts import PromptTemplate
from service.tasks.commitments.entities import Mention
from service.tasks.commitments.romanised import foreign_pinyin
from service.tasks.context import TaskContext
from service.tasks.guard import without_comments
from service.tasks.units import in_prompt, one_line

NAME_TASK = "entity_name"
#: A name has at most this many words (the longest official zone name in the glossary has 14).
MAX_WORDS = 20
#: English characters per Han character of the name at the least (前海 → Qianhai: 3.5).
MIN_CHARS_PER_HAN = 2
_ADVICE = "Answer with the English name only, in English, with no Chinese characters."


def unnamed(entities: Sequence[Mention], glossary: Glossary | None) -> list[str]:
    """The keys of ``entities`` the glossary (if any) does not name, each once, in order."""
    known = {matching_form(e.zh) for e in glossary.entries} if glossary else set()
    return list(dict.fromkeys(m.key for m in entities if m.key not in known))


async def name_entities(
    keys: Sequence[str], contexts: dict[str, str], ctx: TaskContext
) -> dict[str, str]:
    """The checked English name of each key the model could name (one call each, one re-ask)."""
    gateway = ctx.gateway
    template = gateway.registry.get(NAME_TASK, gateway.profile.mode, ctx.versions.get(NAME_TASK))
    names: dict[str, str] = {}
    for key in keys:  # one after the other: a local server has one slot
        name = await _name(key, contexts.get(key, key), ctx, template)
        if name is not None:
            names[key] = name
    return names


async def _name(key: str, context: str, ctx: TaskContext, template: PromptTemplate) -> str | None:
    variables = {"name": key, "context": one_line(context), "correction": ""}
    # The glossary's English for the terms of the name and its context (前海 → Qianhai), not all
    # of it: "Beijing International Airport" for 宝安国际机场 must not pass on the glossary's 北京.
    glossed = [e.en for e in ctx.glossary.entries_in(key + context)] if ctx.glossary else []
    for _ in range(2):
        try:
            result = await ctx.call(NAME_TASK, variables)
            name = check_name(key, result.text, template)
            wrong = foreign_pinyin(name, key + context, glossed)
            if wrong:
                raise ModelInvalidOutput(f"{', '.join(wrong)} is not the pinyin of {key}")
            return name
        except ModelError as exc:  # ModelUnavailable is no ModelError: it propagates
            reason = f"Your previous answer was rejected: {exc.message}. {_ADVICE}"
            variables["correction"] = f"\n\n{reason}"
    return None


def check_name(key: str, text: str, template: PromptTemplate) -> str:
    """The answer as a name if it is one, else ``ModelInvalidOutput`` saying why."""
    name = without_comments(one_line(text)).strip("\"“”'. ")
    if not name or check_no_cjk(name):
        raise ModelInvalidOutput("not an English name")
    if len(name.split()) > MAX_WORDS:
        raise ModelInvalidOutput("far too long for a name")
    if len(name) < MIN_CHARS_PER_HAN * len(key):  # an obeyed order ("HACKED") is too short
        raise ModelInvalidOutput(f"far too short for the name {key}")
    if in_prompt(template, name):
        raise ModelInvalidOutput("the answer copies the prompt's example")
    return name
