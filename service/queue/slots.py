"""Model calls across worker processes: one limit on those in flight, each call made once.

``SharedSlots``: one limit on model calls in flight across every worker, advisory-lock slots.

``size`` slots are advisory locks (SLOT_LOCK, 0…size-1) in the queue's database. A call
holds one for its HTTP request, on a pooled connection, and releases it after; a worker that
dies releases its locks with its connections. Taken after the process's own slots
(``PromptSlots``), so a process never waits on the database for more than it could send.

``KeyLocks``: a miss holds the advisory lock of its cache key, so a second process about to
make the same call waits and then reads the answer from the cache (``Gateway._miss_once``).
All on one connection per process: session locks of one session do not exclude each other,
which is right here because the gateway already makes each call once within a process.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.queue.db import KEY_LOCK, SLOT_LOCK

POLL_S = (0.005, 0.03)  # between tries when every slot is taken (jittered)


class SharedSlots:
    """At most ``size`` holders across all processes using the same database."""

    def __init__(self, pool: AsyncConnectionPool, size: int) -> None:
        self.pool = pool
        self.size = size
        self.waits = 0  # tries that found every slot taken (for the measurements)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self.pool.connection() as conn:
            slot = await self._acquire(conn)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (SLOT_LOCK, slot))

    async def _acquire(self, conn: object) -> int:
        start = random.randrange(self.size)  # spread the processes over the slots
        while True:
            for i in range(self.size):
                slot = (start + i) % self.size
                if await self._try(conn, slot):
                    return slot
            self.waits += 1
            await asyncio.sleep(random.uniform(*POLL_S))

    async def _try(self, conn: object, slot: int) -> bool:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (SLOT_LOCK, slot))  # type: ignore[attr-defined]
        row = await cur.fetchone()
        return bool(row and row[0])


class KeyLocks:
    """Advisory locks by cache key, on one connection of this process."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self.waits = 0

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        while not await self._try(key):
            self.waits += 1
            await asyncio.sleep(random.uniform(*POLL_S))
        try:
            yield
        finally:
            await self.conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (KEY_LOCK, key))

    async def _try(self, key: str) -> bool:
        cur = await self.conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (KEY_LOCK, key)
        )
        row = await cur.fetchone()
        return bool(row and row[0])
