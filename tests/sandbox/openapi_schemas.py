"""Validate JSON bodies against the schemas Huma's own OpenAPI document declares (never hand-copied).

The document is read from the reference folder (``../shared/reference`` beside the repo, or
``HUMACRONA_REFERENCE_DIR``; without either the tests that need it are skipped: tests/reference_files.py)
and every ``$ref`` is resolved inside it with a ``referencing`` registry, under JSON Schema Draft 2020-12
(the dialect of OpenAPI 3.1) with format checking.

One OpenAPI keyword needs help: ``discriminator``. ``User.groups`` and ``PageGroup.items`` are
``oneOf: [Group, Company, Location, Team]`` where Company, Location and Team are ``allOf: [Group, ...]``,
so a company is valid against all four and plain ``oneOf`` ("exactly one") can never pass. OpenAPI
says the discriminator property picks the branch, so where every branch of a ``oneOf`` is a ``$ref``
to a schema that declares (directly or through its ``allOf`` base) a discriminator, the instance is
validated against the branch its discriminator value names: the schema named like the value
(``company`` → ``Company``), or the value followed by the base's name (``national`` →
``NationalBankAccount``, ``client_credentials`` → ``ClientCredentialsGrantTypeInput``), else the base
itself when it is a branch (``organization`` → ``Group``). Otherwise ``oneOf`` keeps its normal meaning.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import yaml
from jsonschema import Draft202012Validator, FormatChecker, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from humacrona_pipeline.core.countries import is_alpha2
from tests.reference_files import reference_file

DOCUMENT_NAME = "huma-openapi-1.53.2.yaml"
_BASE_URI = "urn:huma-openapi-1.53.2"


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """Huma's OpenAPI document; the calling test is skipped when the reference folder is not there."""
    __tracebackhide__ = True
    return yaml.safe_load(reference_file(DOCUMENT_NAME).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(_BASE_URI, Resource(contents=openapi_document(), specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _pascal(value: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in value.replace("-", "_").split("_"))


def _discriminator_of(schema: dict, resolve) -> tuple[dict, str] | None:
    """(discriminator, name of the schema declaring it) for a schema or its allOf base."""
    if "discriminator" in schema:
        return schema["discriminator"], ""
    for part in schema.get("allOf", ()):
        if "$ref" in part:
            base = resolve(part["$ref"])
            if "discriminator" in base:
                return base["discriminator"], part["$ref"].rsplit("/", 1)[-1]
    return None


def _discriminated_one_of(validator, one_of, instance, schema):
    if isinstance(instance, dict) and one_of and all(set(branch) == {"$ref"} for branch in one_of):
        def resolve(ref):
            return validator._resolver.lookup(ref).contents

        names = [branch["$ref"].rsplit("/", 1)[-1] for branch in one_of]
        found = [_discriminator_of(resolve(branch["$ref"]), resolve) for branch in one_of]
        declared = [f for f in found if f is not None]
        if declared:
            discriminator = declared[0][0]
            bases = {base for _, base in declared if base} | {n for n, f in zip(names, found) if f and not f[1]}
            value = instance.get(discriminator["propertyName"])
            if isinstance(value, str):
                target = discriminator.get("mapping", {}).get(value)
                wanted = {_pascal(value).casefold()} | {(_pascal(value) + b).casefold() for b in bases}
                index = next((i for i, b in enumerate(one_of) if target and b["$ref"] == target), None)
                if index is None:
                    index = next((i for i, n in enumerate(names) if n.casefold() in wanted), None)
                if index is None:
                    index = next((i for i, n in enumerate(names) if n in bases), None)
                if index is not None:
                    yield from validator.descend(instance, one_of[index], schema_path=index)
                    return
    yield from _plain_one_of(validator, one_of, instance, schema)


_plain_one_of = Draft202012Validator.VALIDATORS["oneOf"]
_OpenApiValidator = validators.extend(Draft202012Validator, {"oneOf": _discriminated_one_of})

_FORMATS = FormatChecker()


@_FORMATS.checks("ISO 3166-1 alpha-2")
def _is_country(value) -> bool:
    return not isinstance(value, str) or is_alpha2(value)


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    if isinstance(value, str):
        if "T" not in value:
            raise ValueError(f"{value!r} has no time part")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _validate(pointer: str, body, what: str) -> None:
    validator = _OpenApiValidator({"$ref": f"{_BASE_URI}#{pointer}"}, registry=_registry(), format_checker=_FORMATS)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        raise AssertionError(f"{what} does not match Huma's OpenAPI document:\n" + "\n".join(lines))


def operation(method: str, path: str) -> dict:
    paths = openapi_document()["paths"]
    if path not in paths or method.lower() not in paths[path]:
        raise AssertionError(f"{method} {path} is not an operation of Huma's OpenAPI document")
    return paths[path][method.lower()]


def declared_statuses(method: str, path: str) -> set[int]:
    return {int(code) for code in operation(method, path)["responses"]}


def validate_response(method: str, path: str, status: int, body) -> None:
    """Check a response body against the schema the document declares for this operation and status."""
    response = operation(method, path)["responses"].get(str(status))
    if response is None:
        raise AssertionError(f"{method} {path} does not declare a {status} response "
                             f"(declared: {sorted(declared_statuses(method, path))})")
    if "content" not in response:
        assert body in (None, b"", ""), f"{method} {path} {status} declares no body, got {body!r}"
        return
    pointer = "/" + _pointer("paths", path, method.lower(), "responses", str(status), "content",
                             "application/json", "schema")
    _validate(pointer, body, f"{method} {path} {status} response")


def validate_request(method: str, path: str, body, content_type: str = "application/json") -> None:
    """Check a request body against the operation's declared request schema."""
    content = operation(method, path).get("requestBody", {}).get("content", {})
    if content_type not in content:
        raise AssertionError(f"{method} {path} takes no {content_type} body (takes {sorted(content)})")
    pointer = "/" + _pointer("paths", path, method.lower(), "requestBody", "content", content_type, "schema")
    _validate(pointer, body, f"{method} {path} request")


def validate_component(name: str, body) -> None:
    """Check a body against ``#/components/schemas/<name>``."""
    if name not in openapi_document()["components"]["schemas"]:
        raise AssertionError(f"no component schema {name!r} in Huma's OpenAPI document")
    _validate("/" + _pointer("components", "schemas", name), body, f"{name}")
