"""Persistence: the SQLite (or PostgreSQL) store for the call cache, ledger, documents and jobs."""

from service.store.store import CachedResponse, Store
from service.store.tables import CallRecord

__all__ = ["CachedResponse", "CallRecord", "Store"]
