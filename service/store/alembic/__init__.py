"""The store's alembic scripts (env.py, versions/), run by ``service.store.migrations``."""
