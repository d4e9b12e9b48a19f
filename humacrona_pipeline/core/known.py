"""Values already found valid, so validating a column that was just normalised is a lookup per value.

The normalisers know whether what they produced is valid (a phone they could read, an account whose check
digit held, an address with every part); the pandera checks then look the column up here and run the full
validator only on the rest. Each set is bounded and has ``cache_clear`` like the lru caches, so a benchmark
(or a test) can start as cold as a fresh process.

Two lookups: by value (the other system's number, typed the same way), and by identity, for the very
objects a normaliser returned. The second compares addresses only, so a column's values are not read at
all; the set keeps every object it was given alive, so an address it holds cannot be reused by another."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .chars import pointers

LIMIT = 1 << 20  # values kept per set; a set that would grow past it is emptied first


class KnownValid(set):
    """A bounded set of values a validator would accept, and of the objects that carry them."""

    def __init__(self) -> None:
        super().__init__()
        self._objects: list[object] = []  # kept alive: their addresses identify them
        self._addresses: np.ndarray | None = None

    def __repr__(self) -> str:  # never the values: they include full bank accounts
        return f"KnownValid({len(self)} values, {len(self._objects)} objects)"

    def remember(self, value: object) -> None:
        """Remember this value and this very object."""
        if len(self) >= LIMIT or len(self._objects) >= LIMIT:
            self.cache_clear()
        self.add(value)
        self._objects.append(value)
        self._addresses = None

    def remember_all(self, values: Iterable[object]) -> None:
        """Remember these values, and these very objects (None skipped)."""
        values = [v for v in values if v is not None]
        self.remember_objects(values)
        self.update(values)

    def remember_objects(self, objects: Iterable[object]) -> None:
        """Remember these objects, whose values are valid, by identity only (None skipped)."""
        objects = [v for v in objects if v is not None]
        if len(self) + len(objects) > LIMIT or len(self._objects) + len(objects) > LIMIT:
            self.cache_clear()
        self._objects.extend(objects)
        self._addresses = None

    def mask(self, values: Sequence[object]) -> np.ndarray:
        """A boolean per value: True when it is known valid (an equal value was remembered)."""
        if not self:
            return np.zeros(len(values), dtype=bool)
        return np.fromiter((v in self for v in values), dtype=bool, count=len(values))

    def mask_objects(self, values: np.ndarray) -> np.ndarray:
        """A boolean per element of an object array: True when it is one of the objects remembered."""
        if not self._objects:
            return np.zeros(len(values), dtype=bool)
        if self._addresses is None:
            self._addresses = np.fromiter(map(id, self._objects), dtype=np.intp, count=len(self._objects))
        return pd.Series(pointers(values)).isin(self._addresses).to_numpy()

    def cache_clear(self) -> None:
        self.clear()
        self._objects.clear()
        self._addresses = None
