"""The promise tracker: entities and the commitments about them, across stored documents.

Read-only and computed from the stored commitments artifacts on each request (no model call):
``GET /v1/entities``, ``GET /v1/entities/{key}``, ``GET /v1/commitments?entity=&year=&tier=``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from service.api.deps import ReaderDep
from service.api.errors import error_responses
from service.errors import NotFound
from service.tasks.commitments.tiers import Tier
from service.tasks.commitments.tracker import TrackedCommitment, TrackedEntity

router = APIRouter(tags=["tracker"])

KEY_MAX = 100
EntityKey = Annotated[
    str,
    Path(min_length=1, max_length=KEY_MAX, description="Key (either script) or id (e-…)."),
]


class EntityList(BaseModel):
    items: list[TrackedEntity] = Field(description="Most-linked first.")
    total: int


class EntityDetail(BaseModel):
    entity: TrackedEntity
    commitments: list[TrackedCommitment] = Field(description="By document date, concrete first.")


class CommitmentList(BaseModel):
    items: list[TrackedCommitment] = Field(description="By document date, concrete first.")
    total: int


@router.get(
    "/entities",
    response_model=EntityList,
    summary="Entities commitments are about",
    operation_id="list_entities",
)
def list_entities(reader: ReaderDep) -> EntityList:
    """Every entity a stored commitment is about, with its document and commitment counts."""
    entities = reader.library.tracker(reader.glossary).entities
    return EntityList(items=entities, total=len(entities))


@router.get(
    "/entities/{key}",
    response_model=EntityDetail,
    responses=error_responses(404),
    summary="One entity and every commitment about it",
    operation_id="get_entity",
)
def get_entity(key: EntityKey, reader: ReaderDep) -> EntityDetail:
    tracker = reader.library.tracker(reader.glossary)
    entity = tracker.entity(key)
    if entity is None:
        raise NotFound(f"No stored commitment is about {key!r}; GET /v1/entities lists them.")
    return EntityDetail(entity=entity, commitments=tracker.about(entity.key))


@router.get(
    "/commitments",
    response_model=CommitmentList,
    summary="Stored commitments of all documents, filtered",
    operation_id="list_commitments",
)
def list_commitments(
    reader: ReaderDep,
    entity: Annotated[
        str | None,
        Query(min_length=1, max_length=KEY_MAX, description="Entity key (either script) or id."),
    ] = None,
    year: Annotated[int | None, Query(ge=1900, le=2100, description="Document year.")] = None,
    tier: Annotated[Tier | None, Query(description="concrete or general.")] = None,
) -> CommitmentList:
    """Commitments by document date, concrete first; an unknown entity matches none."""
    tracker = reader.library.tracker(reader.glossary)
    items = tracker.commitments
    if entity is not None:
        found = tracker.entity(entity)
        items = tracker.about(found.key) if found else []
    items = [c for c in items if (year is None or c.year == year) and tier in (None, c.tier)]
    return CommitmentList(items=items, total=len(items))
