"""The durable job queue on PostgreSQL: procrastinate, with our jobs table as the public record.

Used when ``DATABASE_URL`` is PostgreSQL. A job computes one artifact (document, kind,
variant); its row in the store's ``jobs`` table (status, progress, error) is what the API and
the CLI show, and the procrastinate job (``procrastinate_jobs``, its ``args.job_id`` naming the
row) is what the workers take, heartbeat and, when a worker dies, retry. With the embedded
SQLite default, the API keeps its in-process jobs (``service/api/jobs.py``).
"""


def uses_queue(database_url: str) -> bool:
    """The queue runs where the database is PostgreSQL; SQLite keeps in-process jobs.

    Here, not in ``db``: callers decide without importing procrastinate (an optional extra)."""
    return database_url.startswith(("postgresql", "postgres:"))
