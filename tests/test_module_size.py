"""The shipped package stays readable in small pieces: no module of `humacrona_pipeline` is over 400 lines
and no function or method over 60 lines, unless its docstring says why in a sentence beginning
"Long because" (the module's docstring for a module, the function's own for a function). A function's lines
run from its `def` (decorators excluded) to the last line of its body; a module's are its physical lines.
The sandboxes (`humacrona_sandbox/`) and the tests are not shipped and not checked here."""

from __future__ import annotations

import ast
from pathlib import Path

import humacrona_pipeline

PACKAGE = Path(humacrona_pipeline.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON = "Long because"


def _gives_reason(node: ast.AST) -> bool:
    return REASON in (ast.get_docstring(node) or "")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _too_long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES and not _gives_reason(node):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}() is {lines} lines")
    return found


def test_the_shipped_package_is_found():
    assert len(_modules()) > 20, "the size check must walk the shipped package"


def test_no_module_is_over_400_lines_without_a_reason():
    too_long = []
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and not _gives_reason(ast.parse(path.read_text(encoding="utf-8"))):
            too_long.append(f"{path.relative_to(PACKAGE.parent)} is {lines} lines")
    assert not too_long, (f"modules over {MAX_MODULE_LINES} lines; split them by concern or say "
                          f"'{REASON} ...' in the module docstring:\n" + "\n".join(too_long))


def test_no_function_is_over_60_lines_without_a_reason():
    too_long = [finding for path in _modules() for finding in _too_long_functions(path)]
    assert not too_long, (f"functions over {MAX_FUNCTION_LINES} lines; split them or say "
                          f"'{REASON} ...' in the docstring:\n" + "\n".join(too_long))
