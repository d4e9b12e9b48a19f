"""Huma's job titles for one run: a position names its title by id, so each title name the sync writes is
looked up, or created once when Huma has none (`JobTitles`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..core import normalise as norm
from .http import ApiError
from .huma_errors import is_not_unique

if TYPE_CHECKING:
    from .huma import HumaClient


def _title_key(name: str) -> str:
    """What two job-title names are compared by, whichever system wrote them: the normalised text (NFC, a tab
    or line break a space, whitespace collapsed, trimmed), case-folded. Huma holds names as typed."""
    return (norm.text(name) or "").casefold()


class JobTitles:
    """Job-title name -> id for one run: looked up with `GET /job-titles?search=`, created with
    `POST /job-titles` when missing, and cached, so two employees getting the same new title never
    create it twice (the second waits for the first's lookup). A create is not repeated blindly: after a
    failure whose outcome is unknown, or when Huma says the name is taken, the title is looked up again."""

    CREATE_ATTEMPTS = 3

    def __init__(self, client: HumaClient):
        self._client = client
        self._tasks: dict[str, asyncio.Task] = {}

    async def id_for(self, name: str) -> str:
        key = _title_key(name)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._resolve(norm.text(name) or name))
            self._tasks[key] = task
            task.add_done_callback(lambda t, k=key: self._forget_failed(k, t))
        return await asyncio.shield(task)

    def _forget_failed(self, key: str, task: asyncio.Task) -> None:
        if (task.cancelled() or task.exception() is not None) and self._tasks.get(key) is task:
            del self._tasks[key]  # a later employee tries again

    async def find(self, name: str) -> dict | None:
        """The title called ``name`` (normalised): the exact name first, else one differing only in case or
        whitespace. Huma's search matches a part of the name as Huma holds it, which may have a tab or a line
        break where ``name`` has a space: so the search is for ``name``'s longest word, and the titles found
        are compared by `_title_key`."""
        titles = await self._client.list_job_titles(search=max(name.split(), key=len, default=name))
        exact = [t for t in titles if norm.text(str(t.get("name") or "")) == name]
        loose = [t for t in titles if _title_key(str(t.get("name") or "")) == _title_key(name)]
        found = exact or loose
        return found[0] if found else None

    async def _resolve(self, name: str) -> str:
        found = await self.find(name)
        if found is not None:
            return found["id"]
        retry = self._client.session.retry
        for attempt in range(1, self.CREATE_ATTEMPTS + 1):
            try:
                return (await self._client.create_job_title(name))["id"]
            except ApiError as exc:
                taken = is_not_unique(exc, "name")
                if not (taken or exc.outcome_unknown):
                    raise
                found = await self.find(name)
                if found is not None:
                    return found["id"]
                if taken or attempt == self.CREATE_ATTEMPTS:
                    raise
                await retry.sleep(retry.backoff_s(attempt))
        raise AssertionError("unreachable")
