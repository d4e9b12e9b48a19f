"""Who holds a value of a field Huma keeps unique (a phone, an employment ID), so the plan never gives one
to a second Huma user: the Huma user holding it, or whoever a planned write gives it to."""

from __future__ import annotations

import numpy as np

from .canonical import CanonicalTable

__all__ = ["HumaHolders"]


class HumaHolders:
    """value -> who has it for one Huma-unique field: the first Huma user holding it, or whoever a planned
    write gives it to (None: nobody). Huma's column is searched only for the values asked about."""

    def __init__(self, huma: CanonicalTable, column: str) -> None:
        self.huma, self.column = huma, column
        self.known: dict = {}

    def prefetch(self, values: np.ndarray) -> None:
        values = {v for v in values if v is not None and v == v and v not in self.known}
        if values:
            found = self.huma.first_holders(self.column, values)
            self.known.update((v, found.get(v)) for v in values)

    def get(self, value: object) -> object:
        if value not in self.known:
            self.prefetch(np.array([value], dtype=object))
        return self.known.get(value)

    def __setitem__(self, value: object, owner: str) -> None:
        self.known[value] = owner

    def pop(self, value: object, default: object = None) -> object:
        """Release a planned value (only ever claimed when no Huma user held it)."""
        owner = self.known.get(value, default)
        self.known[value] = None
        return owner
