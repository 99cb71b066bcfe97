"""The ``policy-reader`` command line (typer). Thin: parse, call the service, print.

One module per area; importing them registers their commands on ``app``.
"""

from service.cli import admin, commitments, documents, evaluation, jobs, run, targets, tracker
from service.cli.app import app, main

__all__ = [
    "admin",
    "app",
    "commitments",
    "documents",
    "evaluation",
    "jobs",
    "main",
    "run",
    "targets",
    "tracker",
]
