"""What the connections file may hold, read safely: YAML without aliases, and a variable's name where a secret's
place would be (never the secret itself). Pure Python: PyYAML only."""

from __future__ import annotations

import re

import yaml

_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def looks_like_secret(value: str) -> bool:
    """An environment variable's name is capitals, digits and _, and reads as words; a code or key pasted in its
    place has a dash, lower case, a leading digit, or letters and digits mixed (`K4M2Q9X7`)."""
    if not _VARIABLE.fullmatch(value):
        return True
    switches = sum(a.isdigit() != b.isdigit() for a, b in zip(value, value[1:]) if a != "_" and b != "_")
    one_word_with_digits = "_" not in value and any(ch.isdigit() for ch in value)  # `ABCD1234`: a code, not a name
    return switches >= 4 or one_word_with_digits or ("_" not in value and len(value) >= 16)


class NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a connections file has no use for them, and a few nested aliases expand
    into gigabytes once a value is shown in a problem line."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed here", event.start_mark)
        return super().compose_node(parent, index)
