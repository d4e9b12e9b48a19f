"""How values are shown: characters that hide or reorder text are made visible everywhere, and a value inside
Dagster's Markdown stays literal text (no HTML, link, image, code, emphasis, cell break)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from humacrona_pipeline.core.display import (
    display_value,
    markdown_list,
    markdown_rows,
    markdown_text,
    visible,
)

HIDING = {
    "\u202e": "<U+202E>",  # right-to-left override: "\u202egnp.exe" reads "exe.png"
    "\u202a": "<U+202A>", "\u202b": "<U+202B>", "\u202c": "<U+202C>", "\u202d": "<U+202D>",
    "\u2066": "<U+2066>", "\u2067": "<U+2067>", "\u2068": "<U+2068>", "\u2069": "<U+2069>",
    "\u200e": "<U+200E>", "\u200f": "<U+200F>",
    "\u200b": "<U+200B>", "\u200c": "<U+200C>", "\u200d": "<U+200D>", "\u2060": "<U+2060>", "\ufeff": "<U+FEFF>",
    "\u00ad": "<U+00AD>", "\x00": "<U+0000>", "\x1b": "<U+001B>", "\x7f": "<U+007F>", "\n": "<U+000A>",
    "\r": "<U+000D>", "\t": "<U+0009>", "\u2028": "<U+2028>", "\u2029": "<U+2029>",
}


@pytest.mark.parametrize("char, marker", HIDING.items())
def test_a_character_that_hides_or_reorders_text_is_shown_as_its_code_point(char, marker):
    assert visible(f"ab{char}cd") == f"ab{marker}cd"
    assert display_value("job_title", f"{char}gnp.exe") == f"{marker}gnp.exe"


def test_every_control_and_format_character_is_made_visible():
    hidden = [chr(c) for c in range(0x110000)
              if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    shown = visible("".join(hidden))
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in shown)
    assert shown.count("<U+") == len(hidden)


def test_readable_text_is_left_as_it_is():
    for text in ("Åsa Öberg-Ängström", "Lönespecialist", "José Núñez", "Zoë", "Σωκράτης", "محمد", "山田 太郎",
                 "•••• 7897", "a & b <c>"):
        assert visible(text) == text
    assert visible(None) == visible(float("nan")) == ""


VISIBLE_WITHOUT_PANDAS = r"""
import decimal, json, sys
from humacrona_pipeline.core.visible import visible, visible_lines
shown = [visible("a\u202eb"), visible_lines("one\u200b\ntwo"), visible(None), visible(float("nan")),
         visible(decimal.Decimal("NaN")), visible(0), visible([1]), visible("")]
print(json.dumps([shown, "pandas" in sys.modules]))
"""


def test_the_rule_is_the_same_where_pandas_is_not_loaded():
    """`core.visible`, as the command line uses it (no pandas loaded): the same markers, nothing for None and NaN."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", VISIBLE_WITHOUT_PANDAS], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert json.loads(out) == [["a<U+202E>b", "one<U+200B>\ntwo", "", "", "", "0", "[1]", ""], False]


def test_display_value_masks_and_joins_before_showing():
    assert display_value("bank_account", "83279 1234567897") == "•••• 7897"
    assert display_value("address", "Storgatan 1\n114 55\nStockholm\nSE") == "Storgatan 1, 114 55, Stockholm, SE"
    assert display_value("address", "Storgatan\u202e 1\n114 55") == "Storgatan<U+202E> 1, 114 55"


def unescaped(char: str, text: str) -> list[str]:
    """Occurrences of ``char`` in Markdown ``text`` not preceded by an odd number of backslashes."""
    return re.findall(rf"(?<!\\)(?:\\\\)*{re.escape(char)}", text)


@pytest.mark.parametrize("value", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a|b", "x\ny", "\u202egnp.exe", "an\u200bna",
    "n\x00l", "[link](javascript:alert(1))", "![](http://evil.example/x.png)", "`", "``code``", "**bold**",
    "_em_", "~~gone~~", "a\\|b", "\\", "&lt;script&gt;", "# heading", "- item", "1. item", "---",
])
def test_a_markdown_value_is_literal_text(value):
    text = markdown_text(value)
    assert "\n" not in text and "<" not in text and ">" not in text
    for char in "|[]`*~":
        assert not unescaped(char, text), (value, text)
    assert not re.search(r"(?<![\w\\])_|(?<!\\)_(?!\w)", text)  # an underscore that could open emphasis
    assert not re.match(r"(#{1,6}|[-+]|\d+[.)])(\s|$)|---", text)  # nothing that starts a block
    assert not re.search(r"(?<!\\)://", text)  # no bare link to click
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def test_markdown_keeps_what_people_read():
    assert markdown_text("\u202egnp.exe") == "&lt;U+202E&gt;gnp.exe"  # rendered: "<U+202E>gnp.exe"
    assert markdown_text("<script>") == "&lt;script&gt;"
    assert markdown_text("a|b") == "a\\|b"
    # Names, emails and plan words read as they are: no backslash where Markdown would change nothing.
    for text in ("first_last@nordljus.se", "missing_in_crona", "Åsa Öberg-Ängström", "2025-01-15", "-5", "1.5",
                 "•••• 7897", "10.1 %"):
        assert markdown_text(text) == text


def test_a_markdown_table_keeps_one_row_per_line_and_its_columns():
    rows = [["a|b", "x\ny"], ["[l](javascript:alert(1))", "\u202e|"]]
    table = markdown_rows(["v|1", "v2"], rows).split("\n")
    assert len(table) == 2 + len(rows)
    assert all(len(unescaped("|", line)) == 3 for line in table), table


def test_a_markdown_list_has_one_item_per_value():
    listed = markdown_list(["# not a heading", "x\n- not an item", "<b>bold</b>"])
    assert listed.split("\n") == ["- \\# not a heading", "- x&lt;U+000A&gt;- not an item",
                                  "- &lt;b&gt;bold&lt;/b&gt;"]
    assert markdown_list([]) == "_none_"
