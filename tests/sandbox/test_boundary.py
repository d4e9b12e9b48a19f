"""No module of humacrona_sandbox imports humacrona_pipeline.

The sandboxes are the systems the pipeline is tested against; a sandbox that took a field list, a validator
or a normaliser from the pipeline would agree with it by construction, and a bug in that code could never
show up in a sandbox-backed test. So the import boundary is checked on the source, every module of the
package: plain imports, from-imports (relative ones cannot leave the package) and the module names given to
importlib.import_module or __import__ as string literals."""

from __future__ import annotations

import ast
from pathlib import Path

import humacrona_sandbox

PACKAGE_DIR = Path(humacrona_sandbox.__file__).resolve().parent
FORBIDDEN = "humacrona_pipeline"
REPO = PACKAGE_DIR.parent


def _forbidden(module: str | None) -> bool:
    return module is not None and (module == FORBIDDEN or module.startswith(FORBIDDEN + "."))


def _dynamic_import_target(call: ast.Call) -> str | None:
    """The module name of ``importlib.import_module("…")``, ``import_module("…")`` or ``__import__("…")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def pipeline_imports(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, what) for every import of humacrona_pipeline in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _forbidden(node.module):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call) and _forbidden(_dynamic_import_target(node)):
            found.append((node.lineno, f"import_module({_dynamic_import_target(node)!r})"))
    return sorted(found)


def test_no_sandbox_module_imports_the_pipeline():
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) > 10, f"expected the sandbox's modules under {PACKAGE_DIR}"
    offences = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in modules
        for line, what in pipeline_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not offences, "humacrona_sandbox must state the real systems' rules itself:\n" + "\n".join(offences)


def test_the_check_sees_every_form_of_import():
    source = "\n".join([
        "import humacrona_pipeline",
        "import os, humacrona_pipeline.core.bank_accounts as b",
        "from humacrona_pipeline.connectors.crona import CRONA_COLUMNS",
        "def f():",
        "    import importlib",
        "    return importlib.import_module('humacrona_pipeline.core.countries')",
        "x = __import__('humacrona_pipeline')",
        "from . import humacrona_pipeline_notes",  # relative: stays inside the sandbox
        "import humacrona_pipelines",  # another name that merely starts alike
        "import_module(name)",  # not a literal: nothing to check
    ])
    assert [line for line, _ in pipeline_imports(source, "example.py")] == [1, 2, 3, 6, 7]
