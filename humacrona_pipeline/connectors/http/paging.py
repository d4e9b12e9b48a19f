"""Reading a paged list whole: the pages concurrently, and again when the list changed under the read."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .concurrency import run_bounded
from .errors import ListingChangedError

log = logging.getLogger("humacrona.connectors")


@dataclass
class Page:
    items: list[dict]
    total: int | None


async def collect_pages(
    fetch_page: Callable[[int, int], Awaitable[Page]],
    *,
    page_size: int,
    key: Callable[[dict], Any],
    workers: int,
    system: str,
    path: str,
    passes: int = 3,
) -> list[dict]:
    """Every item of a paged list exactly once, in list order.

    `fetch_page(index, size)` reads page `index` (0-based) of `size` items. The first page gives the
    total; the remaining pages are read concurrently. If the list changed while it was read (pages
    disagree about the total, an item shows up twice, or fewer items than the total came back) the
    whole list is read again, since an item may have moved onto a page that was already read; a
    consistent pass is what is returned. A list without a total is read page by page to a short page.

    Offset paging has no snapshot: one item leaving and another arriving between two page reads
    leaves the count, the total and the pages unchanged, and cannot be seen from here. Reading a list
    while it is written to is therefore best effort; a sync compares against a fresh read anyway.
    """
    for number in range(1, passes + 1):
        pages = await _read_pass(fetch_page, page_size, workers)
        items, consistent = _merge(pages, key)
        if consistent:
            return items
        log.info("%s %s changed while it was read (pass %d of %d); reading it again", system, path, number,
                 passes)
    raise ListingChangedError(system, None, "GET", path,
                              message=f"the list kept changing while it was read ({passes} passes); try again")


async def _read_pass(fetch_page, page_size: int, workers: int) -> list[Page]:
    first = await fetch_page(0, page_size)
    pages = [first]
    size = page_size
    if first.total is None:
        while len(pages[-1].items) >= size:
            pages.append(await fetch_page(len(pages), size))
        return pages
    if 0 < len(first.items) < min(size, first.total):
        size = len(first.items)  # the service caps the page size below what we asked for: follow it
    planned = math.ceil(first.total / size) if size else 1
    pages += await run_bounded(range(1, planned), lambda index: fetch_page(index, size), workers)
    # The list grew while it was read: keep going while pages are full and the total says there is more.
    while len(pages[-1].items) >= size and len(pages) * size < max(p.total or 0 for p in pages):
        pages.append(await fetch_page(len(pages), size))
    return pages


def _merge(pages: list[Page], key) -> tuple[list[dict], bool]:
    found: dict[Any, dict] = {}
    duplicates = 0
    unkeyed = 0
    for page in pages:
        for item in page.items:
            k = key(item)
            if k is None:  # cannot deduplicate what has no key; keep it and count it
                found[("__unkeyed__", unkeyed)] = item
                unkeyed += 1
            elif k in found:
                duplicates += 1
            else:
                found[k] = item
    totals = {p.total for p in pages}
    if None in totals:
        consistent = duplicates == 0
    else:
        consistent = duplicates == 0 and len(totals) == 1 and len(found) == pages[0].total
    return list(found.values()), consistent
