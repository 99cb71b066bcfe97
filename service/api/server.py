"""``policy-reader serve``: the API under uvicorn."""

from __future__ import annotations

import uvicorn

from service.api.app import create_app
from service.config import Settings
from service.errors import InputError

APP_FACTORY = "service.api.app:create_app"


def serve(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """Run until interrupted. Several workers each open their own reader. With PostgreSQL
    they submit to the one job queue (``policy-reader worker`` computes; dedup, ``?wait`` and
    cancel work from any of them); with SQLite each runs its own in-process jobs."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}.")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=False)
        return
    # Worker processes import the app themselves; each reads the settings from the environment.
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers)
