"""A credential wrapper, so that a client id, secret or activation code never reaches a log line, a repr or a
report by accident."""

from __future__ import annotations


class Secret:
    """A credential that does not show itself: `repr`/`str` print a placeholder, `reveal()` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value:
            raise ValueError("a credential must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
