"""Documents: add (idempotent by content), list, read, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from service.api.deps import JobsDep, LibraryDep, ReaderDep, SettingsDep
from service.api.errors import error_responses
from service.api.schemas import HTTP_URL, DocumentIn, DocumentOut, DocumentPage, IsoDate
from service.api.upload import FILE_TYPES, read_upload
from service.artifacts import KINDS
from service.models import Document
from service.reader import Reader

router = APIRouter(prefix="/documents", tags=["documents"])

INCLUDE = r"^(text|paragraphs)(,(text|paragraphs))*$"
# What a stored document leads to: itself, its removal, its artifacts to compute and read.
DOCUMENT_LINKS = {
    "GetDocument": "get_document",
    "DeleteDocument": "delete_document",
    **{f"Compute{k.title()}": f"compute_{k}" for k in KINDS},
    **{f"Read{k.title()}": f"read_{k}" for k in KINDS},
}
LINKS = {
    name: {"operationId": op, "parameters": {"doc_id": "$response.body#/id"}}
    for name, op in DOCUMENT_LINKS.items()
}
# What this operation adds to the statuses' general meanings (service/api/openapi.py).
ADD_MEANINGS = {
    415: "A file part must be one of: " + ", ".join(t for t in FILE_TYPES if t) + ".",
    422: "Here also: a damaged, encrypted or scanned (no text layer) PDF, a ZIP that is not a "
    ".docx, a URL that could not be fetched.",
}
ADDED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Stored: the new document.", "links": LINKS},
    200: {"model": DocumentOut, "description": "Already stored: the same.", "links": LINKS},
    **{
        status: {
            **r,
            "description": f"{r['description']} {ADD_MEANINGS.get(int(status), '')}".strip(),
        }
        for status, r in error_responses(403, 413, 415, 422).items()
    },
}
# The body is read by hand (JSON or multipart), so its schema is declared here.
ADD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    # One of file and url; "anyOf required" would cost generated clients their
                    # plain body class, and a form with neither is answered 422.
                    "description": "A file (text, HTML, PDF, DOCX), or a url to fetch.",
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "url": {"type": "string", "maxLength": 2000, "pattern": HTTP_URL},
                        "title": {"type": "string", "maxLength": 500},
                        "source_url": {"type": "string", "maxLength": 2000, "pattern": HTTP_URL},
                        "published": {"type": "string", "format": "date"},
                    },
                },
                "encoding": {"file": {"contentType": ", ".join(t for t in FILE_TYPES if t)}},
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=DocumentOut,
    responses=ADDED,
    openapi_extra=ADD_BODY,
    summary="Add a document (JSON text or file upload); same content, same id",
    operation_id="add_document",
)
async def add_document(
    request: Request, response: Response, reader: ReaderDep, settings: SettingsDep
) -> DocumentOut:
    upload = await read_upload(request, settings)
    doc, created = await asyncio.to_thread(
        reader.library.add_bytes, upload.data, upload.name, upload.meta
    )
    response.status_code = 201 if created else 200
    return await asyncio.to_thread(describe, reader, doc)


@router.get(
    "",
    response_model=DocumentPage,
    summary="List documents, newest last",
    operation_id="list_documents",
)
def list_documents(
    library: LibraryDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    outlet: Annotated[str | None, Query(max_length=200)] = None,
) -> DocumentPage:
    page, total = library.list(
        offset=offset, limit=limit, date_from=date_from, date_to=date_to, outlet=outlet
    )
    return DocumentPage(
        items=[DocumentOut.of(d) for d in page], total=total, offset=offset, limit=limit
    )


@router.get(
    "/{doc_id}",
    response_model=DocumentOut,
    responses=error_responses(404),
    operation_id="get_document",
)
def get_document(
    doc_id: str,
    reader: ReaderDep,
    include: Annotated[
        str | None, Query(pattern=INCLUDE, description="Comma-separated: text, paragraphs.")
    ] = None,
) -> DocumentOut:
    """Metadata, counts and cleaning summary; ``?include=text,paragraphs`` for more."""
    doc = reader.library.get(doc_id)
    out = describe(reader, doc)
    wanted = set((include or "").split(","))
    out.text = doc.text if "text" in wanted else None
    out.paragraphs = doc.paragraphs if "paragraphs" in wanted else None
    return out


@router.delete(
    "/{doc_id}", status_code=204, responses=error_responses(404), operation_id="delete_document"
)
async def delete_document(doc_id: str, library: LibraryDep, jobs: JobsDep) -> Response:
    """Remove the document and its artifacts (the model-call cache stays)."""
    library.get(doc_id)  # 404 before touching any job
    await jobs.cancel_document(doc_id)
    library.delete(doc_id)
    return Response(status_code=204)


def describe(reader: Reader, doc: Document) -> DocumentOut:
    """The document's summary with its chunk count at the reader's budget."""
    budget = reader.budget
    chunks = len(reader.library.chunks(doc, budget))
    return DocumentOut.of(doc, budget=budget, chunks=chunks)
