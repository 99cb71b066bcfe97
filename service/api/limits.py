"""Request body limit: a declared Content-Length over the limit is refused before any byte is
read, and an undeclared (chunked) body is cut off as soon as it passes the limit.

Our own middleware rather than FastAPI's ``max_body_size`` because that one answers a
declared oversize body in plain text; this one answers in the API's error shape. Past the
limit mid-body it raises Starlette's ``HTTPException(413)``, which FastAPI's body parser
re-raises as is and the API's handler renders.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_body


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._too_large()(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> JSONResponse:
        return JSONResponse(error_body("too_large", self.message), status_code=413)

    @property
    def message(self) -> str:
        return (
            f"The request body is over {self.max_body_size} bytes "
            "(READER_MAX_INPUT_BYTES plus room for the JSON or multipart envelope)."
        )

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_size:
                    raise HTTPException(413, self.message)
            return message

        return counted
