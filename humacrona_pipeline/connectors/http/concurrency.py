"""Many calls at once, at most a given number in flight, failing as soon as one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def run_bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], workers: int) -> list[R]:
    """`fn(item)` for every item, at most `workers` at a time, results in input order. The first
    failure cancels the rest and is raised as it is (no ExceptionGroup to unwrap)."""
    items = list(items)
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:  # one shared iterator: no await between next() calls, so no races
            results[index] = await fn(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(workers, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results
