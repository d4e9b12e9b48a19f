"""Sandbox state: collections of JSON documents kept in memory and, when a data directory is given,
written through to SQLite so that a restarted sandbox comes back with the same employees."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path


class Store:
    def __init__(self, path: Path | str | None = None):
        self._docs: dict[str, dict[str, dict]] = {}
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._seq = 0
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS docs (coll TEXT NOT NULL, key TEXT NOT NULL,"
                " seq INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (coll, key))"
            )
            for coll, key, seq, doc in self._db.execute("SELECT coll, key, seq, doc FROM docs ORDER BY seq"):
                self._docs.setdefault(coll, {})[key] = json.loads(doc)
                self._seq = max(self._seq, seq)

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def is_empty(self) -> bool:
        return not any(self._docs.values())

    def get(self, coll: str, key: str) -> dict | None:
        doc = self._docs.get(coll, {}).get(key)
        return copy.deepcopy(doc) if doc is not None else None

    def values(self, coll: str) -> list[dict]:
        """Every document of a collection in insertion order (stable paging)."""
        return [copy.deepcopy(d) for d in self._docs.get(coll, {}).values()]

    def count(self, coll: str) -> int:
        return len(self._docs.get(coll, {}))

    def put(self, coll: str, key: str, doc: dict) -> None:
        self.put_many(coll, [(key, doc)])

    def put_many(self, coll: str, items: Iterable[tuple[str, dict]]) -> None:
        with self._lock:
            rows = []
            bucket = self._docs.setdefault(coll, {})
            for key, doc in items:
                doc = copy.deepcopy(doc)
                bucket[key] = doc
                self._seq += 1
                rows.append((coll, key, self._seq, json.dumps(doc, ensure_ascii=False)))
            if self._db is not None and rows:
                self._db.execute("BEGIN")
                # Keep the first insertion's seq so that an update does not move a row in paging order.
                self._db.executemany(
                    "INSERT INTO docs (coll, key, seq, doc) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (coll, key) DO UPDATE SET doc = excluded.doc",
                    rows,
                )
                self._db.execute("COMMIT")

    def delete(self, coll: str, key: str) -> None:
        with self._lock:
            self._docs.get(coll, {}).pop(key, None)
            if self._db is not None:
                self._db.execute("DELETE FROM docs WHERE coll = ? AND key = ?", (coll, key))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
