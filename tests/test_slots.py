"""PromptSlots: at most n holders; a freed slot goes to a waiter for the same prompt first."""

from __future__ import annotations

import asyncio

import pytest

from service.llm.slots import PromptSlots


async def _served(slots: PromptSlots, order: list[str], prompt: str, hold: asyncio.Event) -> None:
    async with slots.hold(prompt):
        order.append(prompt)
        await hold.wait()


async def test_a_freed_slot_goes_to_the_same_prompt_before_older_waiters() -> None:
    slots, order, go = PromptSlots(1), [], asyncio.Event()
    first = asyncio.create_task(_served(slots, order, "translate/v2", go))
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(_served(slots, order, p, go))
        for p in ("commitments/v2", "translate/v2", "commitments/v2", "translate/v2")
    ]
    await asyncio.sleep(0)
    assert order == ["translate/v2"] and slots.waiting == 4
    go.set()
    await asyncio.gather(first, *waiters)
    assert order == ["translate/v2"] * 3 + ["commitments/v2"] * 2


async def test_never_more_holders_than_slots() -> None:
    slots, inside, peak = PromptSlots(2), 0, 0

    async def one(prompt: str) -> None:
        nonlocal inside, peak
        async with slots.hold(prompt):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(one(f"p{i % 3}") for i in range(30)))
    assert peak == 2 and slots.waiting == 0


async def test_a_cancelled_waiter_does_not_keep_the_slot() -> None:
    slots, order, go = PromptSlots(1), [], asyncio.Event()
    holder = asyncio.create_task(_served(slots, order, "a", go))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(_served(slots, order, "a", go))
    other = asyncio.create_task(_served(slots, order, "b", go))
    await asyncio.sleep(0)
    cancelled.cancel()
    go.set()
    await asyncio.gather(holder, other)
    assert order == ["a", "b"] and cancelled.cancelled()
    async with slots.hold("c"):  # the slot was given back
        pass


async def test_a_waiter_cancelled_after_its_grant_passes_the_slot_on() -> None:
    slots, order, go = PromptSlots(1), [], asyncio.Event()
    go.set()
    async with slots.hold("a"):
        granted = asyncio.create_task(_served(slots, order, "a", go))
        after = asyncio.create_task(_served(slots, order, "b", go))
        await asyncio.sleep(0)
    granted.cancel()  # the slot was handed to it on release, before it could run
    await asyncio.gather(after)
    assert order == ["b"] and granted.cancelled()


def test_zero_slots_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        PromptSlots(0)
