"""Persistence: the SQLite (or PostgreSQL) store for the call cache, ledger, documents and jobs."""

from service.store.store import CachedResponse, Store

__all__ = ["CachedResponse", "Store"]
