"""``Annotated`` dependencies: routes declare what they need; tests swap it with overrides.

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, one thread hand-off each (four on every /v1 read, most of a cached read's
overhead over a bare route, measured with bench/bench_api.py); these only read app state.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.jobs import Jobs
from service.config import Settings
from service.errors import ModelUnavailable, Unauthorized
from service.library import Library
from service.reader import Reader


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_reader(request: Request) -> Reader:
    reader: Reader | None = getattr(request.app.state, "reader", None)
    if reader is None:
        # Only between process start and the end of the lifespan's startup.
        raise ModelUnavailable("The reader is still starting; retry in a few seconds.")
    return reader


async def get_library(reader: Annotated[Reader, Depends(get_reader)]) -> Library:
    return reader.library


async def get_jobs(request: Request) -> Jobs:
    jobs: Jobs | None = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise ModelUnavailable("The job runner is still starting; retry in a few seconds.")
    return jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
LibraryDep = Annotated[Library, Depends(get_library)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]


class KeyBearer(HTTPBearer):
    """The Bearer scheme that also checks the key: one dependency on every /v1 request where
    the scheme, the settings and the check were three (each costs FastAPI a resolution).
    Named ``HTTPBearer`` in the OpenAPI document, as the plain scheme is."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        """When READER_API_KEY is set, every /v1 route needs ``Authorization: Bearer <key>``."""
        settings: Settings = request.app.state.settings
        expected = settings.api_key
        if not expected:
            return None
        credentials = await super().__call__(request)
        given = credentials.credentials if credentials is not None else ""
        # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("Missing or wrong API key: send 'Authorization: Bearer <key>'.")
        return credentials


require_api_key = KeyBearer(
    auto_error=False,
    scheme_name="HTTPBearer",
    description="READER_API_KEY, when the server sets one.",
)
