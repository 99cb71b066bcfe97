"""The two tiers of the commitments list: concrete (quantified, dated or about a named thing)
and general. The concrete tier is shown first everywhere and rendered in English.

Measured on the golden set (``policy-reader eval commitments --tiers``, docs/BENCHMARKS.md):
the concrete tier's items are pledges (precision) and cover the golden quantified, dated and
named-project pledges (recall). Changing the rule changes which commitments get a model call:
bump ``VERSION`` (part of the commitments artifact's variant, so stored artifacts are redone).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from service.tasks.commitments.entities import Mention
from service.tasks.commitments.rules import Candidate

Tier = Literal["concrete", "general"]
TIERS: tuple[Tier, ...] = ("concrete", "general")
VERSION = "tiers-1"

# Reasons of the rule detector (rules.py ``_evidence``) that mark a concrete object: a project
# word after the pledge verb (…中心, …工程, …园区), or a list of objects (…、…等).
CONCRETE_REASONS = ("project object", "enumerated objects")
# A quoted or titled name: 实施"设计+"工程, 《…规划》.
_QUOTED_NAME = re.compile(r"[“\"《]")


def candidate_tier(c: Candidate, about: Sequence[Mention] = ()) -> Tier:
    """Concrete when the candidate has a target, a deadline, a named entity or object."""
    named = bool(about)  # in the quote, its sentence or its section: what the tracker links
    objects = any(r.startswith(CONCRETE_REASONS) for r in c.reasons)
    if c.targets or c.deadline or named or objects or _QUOTED_NAME.search(c.quote):
        return "concrete"
    return "general"


def tier_rank(tier: Tier) -> int:
    """Sort key: the concrete tier first."""
    return TIERS.index(tier)
