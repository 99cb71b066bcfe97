"""Schemathesis hooks for this API (schemathesis.toml names them: run schemathesis
from the checkout root, or with the checkout on PYTHONPATH).

One false positive is dropped, and only that one. A multipart form sends every field as text:
a negative case that turns ``title`` into ``null`` or ``123`` puts the text "null" or "123" on
the wire, which is a valid title. Schemathesis means to forgive exactly this (it re-reads the
form as sent and validates that), but cannot when the form carries a file: its validator
refuses the file's bytes, so the case counts as "schema-violating request accepted". This
hook re-reads the sent form the same way, leaves the file part out, and drops the failure
only when the text fields the server received are valid against the operation's schema.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import jsonschema_rs
import schemathesis
from schemathesis.core.failures import AcceptedNegativeData

MULTIPART = "multipart/form-data"


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a multipart negative case whose sent text fields are valid."""
    if not isinstance(failure, AcceptedNegativeData) or case.media_type != MULTIPART:
        return True
    fields = sent_text_fields(response.request.body, response.request.headers)
    body = case.operation.get_body_for_media_type(MULTIPART)
    if fields is None or body is None:
        return True
    return not valid_without_files(body.raw_schema, fields)


def sent_text_fields(content: Any, headers: Any) -> dict[str, str] | None:
    """The form's plain-text parts as the server reads them (last value wins), or None."""
    if not isinstance(content, bytes):
        return None
    head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + content)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        if part.get_filename() is None and isinstance(payload, bytes):
            fields[str(part.get_param("name", header="content-disposition"))] = payload.decode(
                errors="replace"
            )
    return fields


def valid_without_files(schema: dict[str, Any], fields: dict[str, str]) -> bool:
    """The text fields against the schema with its binary (file) properties left out."""
    files = {n for n, s in schema.get("properties", {}).items() if s.get("format") == "binary"}
    if files & set(fields):
        return False  # a file property sent as text: the server must refuse it
    properties = {n: s for n, s in schema.get("properties", {}).items() if n not in files}
    required = [n for n in schema.get("required", []) if n not in files]
    text_schema = {**schema, "properties": properties, "required": required}
    return bool(jsonschema_rs.validator_for(text_schema).is_valid(fields))
