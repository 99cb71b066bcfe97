"""Rendering: the Markdown site and the JSON export, pure functions of the bundles.

The batch CLI calls ``write_site``; ``render_site`` gives the same files without writing.
"""

from service.render.bundle import DocumentBundle, TaskFailure, TaskState
from service.render.site import (
    SiteReport,
    SiteWriteError,
    mkdocs_config,
    render_site,
    write_mkdocs,
    write_site,
)

__all__ = [
    "DocumentBundle",
    "SiteReport",
    "SiteWriteError",
    "TaskFailure",
    "TaskState",
    "mkdocs_config",
    "render_site",
    "write_mkdocs",
    "write_site",
]
