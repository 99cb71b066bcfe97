"""Reading a document from a request: JSON ``{text, ...}``, a multipart file upload, or a
multipart ``url`` field naming a page or PDF to fetch.

The body size is bounded before we get here (the app's ``max_body_size``: Content-Length is
checked up front and the bytes are counted while they arrive); the text itself is held to
``settings.max_input_bytes`` by ingest. An uploaded file's name is only a display name; its
declared media type must be one we read (``FILE_TYPES``, else 415), and the content decides
the reader. Fetching by URL is off unless ``READER_API_FETCH`` is set, and then refuses
non-public addresses unless ``READER_FETCH_ALLOW_PRIVATE`` is set.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from service.api.schemas import DocumentIn, HttpUrlText, IsoDate, user_meta
from service.config import Settings
from service.errors import (
    FetchRefused,
    InputError,
    InputTooLarge,
    UndecodableInput,
    UnsupportedMedia,
)
from service.ingest.fetch import fetch_url
from service.models import DocumentMeta

ACCEPTED = ("application/json", "multipart/form-data")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Media types of the file part; "" and octet-stream are what clients send when they don't know.
FILE_TYPES = (
    "text/plain", "text/html", "application/xhtml+xml", "application/pdf", DOCX,
    "application/octet-stream", "",
)  # fmt: skip
MAX_NAME = 120
UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]]+")


@dataclass
class Upload:
    data: bytes
    name: str
    meta: DocumentMeta | None


class FormFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=500)
    source_url: HttpUrlText | None = None
    published: IsoDate | None = None
    url: HttpUrlText | None = None  # a page or PDF to fetch instead of a file part

    def meta(self) -> DocumentMeta | None:
        return user_meta(self.title, self.source_url or self.url, self.published)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_upload(request: Request, settings: Settings) -> Upload:
    """The raw bytes, display name and user metadata of a POSTed document."""
    kind = media_type(request)
    if kind == "application/json":
        return await _from_json(request)
    if kind == "multipart/form-data":
        return await _from_form(request, settings)
    raise UnsupportedMedia(
        f"Content-Type {kind or '(none)'} is not accepted; send application/json "
        "{text, title?, source_url?, published?} or multipart/form-data with a 'file' part "
        "(or a 'url' field)."
    )


async def _from_json(request: Request) -> Upload:
    try:
        body = DocumentIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, "body")) from None
    return Upload(encode_text(body.text), "text", body.meta())


def encode_text(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from JSON "\ud800" escapes
        raise UndecodableInput(f"The text is not valid Unicode: {exc.reason}.") from None


async def _from_form(request: Request, settings: Settings) -> Upload:
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:
        if exc.status_code != 400:
            raise  # the body limit's 413 passes through
        raise InputError(f"Malformed multipart body: {exc.detail}") from None
    file = form.get("file")
    if not isinstance(file, UploadFile) and "url" not in form:
        raise InputError(
            "multipart/form-data needs the document in a file part named 'file' (or a 'url')."
        )
    fields = {k: v for k, v in form.items() if k != "file"}
    try:
        meta = FormFields.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, "form")) from None
    if isinstance(file, UploadFile):
        return await _from_file(file, meta, settings.max_input_bytes)
    return await _from_url(meta, settings)


async def _from_file(file: UploadFile, meta: FormFields, limit: int) -> Upload:
    declared = (file.content_type or "").split(";")[0].strip().lower()
    if declared not in FILE_TYPES:
        raise UnsupportedMedia(
            f"A file of type {declared} is not accepted; send text/plain, text/html, "
            f"application/pdf or {DOCX}."
        )
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"The uploaded file is over the limit of {limit} bytes.")
    return Upload(data, display_name(file.filename), meta.meta())


async def _from_url(meta: FormFields, settings: Settings) -> Upload:
    if not settings.api_fetch:
        raise FetchRefused("Fetching documents by URL is off on this server (READER_API_FETCH).")
    fetched = await asyncio.to_thread(
        fetch_url, str(meta.url), settings=settings, allow_private=settings.fetch_allow_private
    )
    return Upload(fetched.data, display_name(fetched.name), meta.meta())


def display_name(filename: str | None) -> str:
    """A safe label from a client-supplied file name: no directories, no control characters."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = UNSAFE_NAME.sub("_", base).strip(" ._")
    return base[:MAX_NAME] or "upload"


def _located(exc: ValidationError, where: str) -> list[dict[str, object]]:
    return [{**e, "loc": (where, *e["loc"])} for e in exc.errors()]
