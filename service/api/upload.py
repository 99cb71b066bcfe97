"""Reading a document from a request: JSON ``{text, ...}`` or a multipart file upload.

The body size is bounded before we get here (the app's ``max_body_size``: Content-Length is
checked up front and the bytes are counted while they arrive); the text itself is held to
``settings.max_input_bytes`` by ingest. An uploaded file's name is only a display name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from service.api.schemas import DocumentIn, HttpUrlText, IsoDate, user_meta
from service.errors import InputError, InputTooLarge, UndecodableInput, UnsupportedMedia
from service.models import DocumentMeta

ACCEPTED = ("application/json", "multipart/form-data")
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


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_upload(request: Request, limit: int) -> Upload:
    """The raw bytes, display name and user metadata of a POSTed document."""
    kind = media_type(request)
    if kind == "application/json":
        return await _from_json(request)
    if kind == "multipart/form-data":
        return await _from_form(request, limit)
    raise UnsupportedMedia(
        f"Content-Type {kind or '(none)'} is not accepted; send application/json "
        "{text, title?, source_url?, published?} or multipart/form-data with a 'file' part."
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


async def _from_form(request: Request, limit: int) -> Upload:
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:
        if exc.status_code != 400:
            raise  # the body limit's 413 passes through
        raise InputError(f"Malformed multipart body: {exc.detail}") from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InputError("multipart/form-data needs the document in a file part named 'file'.")
    fields = {k: v for k, v in form.items() if k != "file"}
    try:
        meta = FormFields.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, "form")) from None
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"The uploaded file is over the limit of {limit} bytes.")
    name = display_name(file.filename)
    return Upload(data, name, user_meta(meta.title, meta.source_url, meta.published))


def display_name(filename: str | None) -> str:
    """A safe label from a client-supplied file name: no directories, no control characters."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = UNSAFE_NAME.sub("_", base).strip(" ._")
    return base[:MAX_NAME] or "upload"


def _located(exc: ValidationError, where: str) -> list[dict[str, object]]:
    return [{**e, "loc": (where, *e["loc"])} for e in exc.errors()]
