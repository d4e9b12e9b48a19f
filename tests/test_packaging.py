"""The humacrona wheel a payroll team deploys holds the shipped package only: no sandbox, no demo, no `humacrona dev`
(they are humacrona_sandbox's, a development-only package), and humacrona_pipeline works without them: it never
imports humacrona_sandbox, and without it `humacrona demo` says in one line where the demo comes from."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import humacrona_pipeline

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(humacrona_pipeline.__file__).resolve().parent
SANDBOX = "humacrona_sandbox"


def _uv() -> list[str]:
    """uv as `uv run` names it (the UV variable), else on PATH, else as a module of this interpreter."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return [shutil.which("uv")]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    pytest.skip("no uv to build the wheel with (run the tests with `python -m uv run --locked pytest`)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([*_uv(), "build", "--wheel", "--out-dir", str(out), str(REPO)], capture_output=True,
                           text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("humacrona-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_the_shipped_package_and_nothing_of_the_sandboxes(wheel):
    names = wheel.namelist()
    dist_info = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
    assert len(dist_info) == 1, dist_info
    elsewhere = [name for name in names if not name.startswith(("humacrona_pipeline/", *dist_info))]
    assert not elsewhere, elsewhere
    assert not [name for name in names if SANDBOX in name or "sandbox" in name.split("/")[-1]], names
    assert "humacrona_pipeline/cli.py" in names and "humacrona_pipeline/serving.py" in names
    assert "humacrona_pipeline/connectors/paxml/paxml-2.0.xsd" in names  # PAXml validates without the reference


def test_the_wheel_declares_the_humacrona_command_and_no_contributed_command(wheel):
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode("utf-8"))
    assert parser["console_scripts"]["humacrona"] == "humacrona_pipeline.cli:run"
    assert "humacrona.commands" not in parser.sections(), parser.sections()


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, and every string that is a humacrona_sandbox module
    path (what `importlib.import_module` would be given)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                rf"{SANDBOX}(\.\w+)*(:\w+)?", node.value):
            found.add(node.value)
    return found


def test_no_module_of_the_shipped_package_imports_the_sandboxes():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20, modules
    offending = {str(path.relative_to(REPO)): sorted(name for name in _imported_modules(path)
                                                    if name.split(".")[0].split(":")[0] == SANDBOX)
                 for path in modules}
    assert not {path: names for path, names in offending.items() if names}


# The shipped package with humacrona_sandbox neither importable nor installed (as in a deployed wheel): a finder
# first on sys.meta_path refuses it and records every attempt; its distribution is left out of the metadata.
WITHOUT_SANDBOX = r"""
import contextlib, importlib, importlib.machinery, io, json, pkgutil, sys

attempts = []

class RefuseSandbox:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "humacrona_sandbox":
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (refused: not installed)", name=name)
        return None

sys.meta_path.insert(0, RefuseSandbox())
found = importlib.machinery.PathFinder.find_distributions
importlib.machinery.PathFinder.find_distributions = classmethod(
    lambda cls, *a, **k: (d for d in found(*a, **k) if d.metadata["Name"] != "humacrona-sandbox"))

import dagster as dg
import humacrona_pipeline
modules = [m.name for m in pkgutil.walk_packages(humacrona_pipeline.__path__, "humacrona_pipeline.")]
for name in modules:
    importlib.import_module(name)
definitions = importlib.import_module("humacrona_pipeline.definitions")
(defs,) = [v for v in vars(definitions).values() if isinstance(v, dg.Definitions)]
jobs = sorted(job.name for job in defs.resolve_all_job_defs())

from humacrona_pipeline.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"])
    except SystemExit as done:
        help_code = done.code
with contextlib.redirect_stderr(err):
    demo_code = main(["demo"])
print(json.dumps({"attempts": attempts, "modules": len(modules), "jobs": jobs, "help": out.getvalue(),
                  "help_code": help_code, "demo": err.getvalue(), "demo_code": demo_code}))
"""


def test_the_shipped_package_runs_without_the_sandboxes_installed():
    done = subprocess.run([sys.executable, "-c", WITHOUT_SANDBOX], capture_output=True, text=True, timeout=300,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["attempts"] == []
    assert seen["modules"] > 20 and {"plan_sync", "sync_users", "push_huma_changes"} <= set(seen["jobs"])
    assert seen["help_code"] == 0 and "sync" in seen["help"] and "webhook" in seen["help"]
    assert not re.search(r"^\s+(demo|dev|sandbox)\s", seen["help"], re.MULTILINE), seen["help"]
    assert seen["demo_code"] == 2
    (line,) = seen["demo"].splitlines()
    assert "development install" in line and "a clone of the repository" in line, line
