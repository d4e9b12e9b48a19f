"""The PAXml 2.0 schema (the published XSD, shipped in the package: a product validates without the
project's reference folder) and the one way documents are parsed and validated against it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only; lxml is imported where it is used
    from lxml import etree

SCHEMA_FILE = Path(__file__).with_name("paxml-2.0.xsd")


class PaxmlError(ValueError):
    """A document that is not valid PAXml 2.0: the schema's (or the XML parser's) message, with its line."""


class UnwritableValueError(ValueError):
    """A value XML 1.0 cannot hold (a control character, a lone surrogate): text rules quarantine such values
    before a write, so meeting one here is a bug upstream, named with its employee and field."""


def _parser() -> etree.XMLParser:
    """A parser that never fetches anything and expands no entity (a file from outside is data, not a program)."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@cache
def schema() -> etree.XMLSchema:
    """The compiled schema, built once per process on first use."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE), _parser()))


def parse(document: bytes) -> etree._Element:
    """The root of a document that is valid PAXml 2.0, decoded as its XML declaration says; PaxmlError
    ("line 12: Element 'person', attribute 'x': ...") when it is not well-formed or not valid."""
    from lxml import etree

    try:
        tree = etree.fromstring(document, _parser()).getroottree()
    except etree.XMLSyntaxError as error:
        raise PaxmlError(f"not an XML document: line {error.lineno}: {error.msg}") from None
    if tree.docinfo.doctype:  # PAXml has none; entities from a DOCTYPE are never expanded, so refuse it whole
        raise PaxmlError("not valid PAXml 2.0: line 1: a DOCTYPE declaration (PAXml files have none)")
    validate(tree)
    return tree.getroot()


def validate(tree: etree._ElementTree) -> None:
    """Raise PaxmlError with the schema's first message and its line when ``tree`` is not PAXml 2.0."""
    from lxml import etree

    checker = schema()
    try:
        if checker.validate(tree):
            return
    except etree.XMLSchemaValidateError as error:  # libxml2 gave up (an unexpanded entity, say)
        raise PaxmlError(f"not valid PAXml 2.0: {error}") from None
    errors = list(checker.error_log)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise PaxmlError(f"not valid PAXml 2.0: line {first.line}: {without_values(first.message)}{more}")


_QUOTED_VALUE = re.compile(r"(: |The value )'[^']*'")


def without_values(message: str) -> str:
    """libxml2's message without the value it quotes: the element, the rule and the line say what is wrong, and
    the value (a personnummer, a salary account) must not reach a log ("'8501011234' is not a valid value" ->
    "the value is not a valid value")."""
    return _QUOTED_VALUE.sub(lambda m: ": the value" if m.group(1) == ": " else "The value", message)
