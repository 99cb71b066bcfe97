"""Request slots that favour the prompt just served: the next free slot goes to the oldest
waiter for the same prompt as the request that just finished, else to the oldest waiter.

Why: a llama.cpp server keeps the tokens it evaluated last and re-evaluates only what differs
in the next prompt. A corpus run asks for every (document, task) at once; through one slot in
first-come order the calls alternated between the translation and the commitments prompts, so
every call evaluated its system prompt again (measured on the five seeds with the embedded
model: 64,134 of 100,303 prompt tokens evaluated, the calls waiting on the server throughout).
Served prompt by prompt, consecutive calls share their system prompt. The total work is the
same; only its order changes, and every waiter is served once no one waits for the prompt in
hand (a task's calls are sequential, so no prompt holds the slot forever).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PromptSlots:
    """At most ``size`` holders at once; see the module doc for who goes next."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"at least one slot is needed, got {size}")
        self._free = size
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []

    @asynccontextmanager
    async def hold(self, prompt: str) -> AsyncIterator[None]:
        """Hold a slot for one request with ``prompt`` (its file id and version)."""
        await self._acquire(prompt)
        try:
            yield
        finally:
            self._release(prompt)

    @property
    def waiting(self) -> int:
        return sum(not f.done() for _, f in self._waiting)

    async def _acquire(self, prompt: str) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (prompt, future)
        self._waiting.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if entry in self._waiting:
                self._waiting.remove(entry)
            elif future.done() and not future.cancelled():
                self._release(prompt)  # granted, then cancelled before it ran: pass it on
            raise

    def _release(self, prompt: str) -> None:
        """Hand the slot to the next waiter (same prompt first), or free it."""
        # A waiter cancelled a moment ago is still listed until its task runs: skip it.
        ready = [e for e in self._waiting if not e[1].done()]
        if not ready:
            self._free += 1
            return
        entry = next((e for e in ready if e[0] == prompt), ready[0])
        self._waiting.remove(entry)
        entry[1].set_result(None)
