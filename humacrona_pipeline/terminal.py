"""What the `humacrona` commands print: one line at a time, flushed, with every character that could hide or
reorder what the terminal shows (a right-to-left override, a zero-width space from Huma's or Crona's data) made
visible as "<U+202E>" (`core.visible`, which loads no pandas: `humacrona --help` and the webhook receiver's first
line stay fast). Errors go to stderr; a misconfiguration is one line there, exit code 2."""

from __future__ import annotations

import sys

from .core.visible import visible_lines


def shown(text: str) -> str:
    """``text`` as it may be printed."""
    return visible_lines(text)


def say(text: str = "", *, err: bool = False) -> None:
    print(shown(text), file=sys.stderr if err else sys.stdout, flush=True)


def fail(line: str, code: int = 2) -> int:
    """One line on stderr; the exit code (2: a misconfiguration the user can fix)."""
    say(line, err=True)
    return code
