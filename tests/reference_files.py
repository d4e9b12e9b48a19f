"""Where tests find Huma's and Crona's reference documents: the one place that decides.

They live in the project's shared/reference folder, never in this repo: beside the clone as
``../shared/reference`` (as CI has it) or wherever ``HUMACRONA_REFERENCE_DIR`` points. A person who just
cloned the repo has neither, so a test that needs a missing file is skipped with one line saying what is
missing and how to provide it. A folder named in ``HUMACRONA_REFERENCE_DIR`` that lacks the file is a
misconfiguration, so the test fails instead: whoever set the variable expects the tests to run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV_VAR = "HUMACRONA_REFERENCE_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def reference_path(name: str) -> Path:
    """Where the reference file ``name`` is looked for (it may not be there)."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR) / name


def reference_file(name: str) -> Path:
    """The reference file ``name``; skips the calling test when the default folder lacks it, fails it when
    the folder ``HUMACRONA_REFERENCE_DIR`` names lacks it."""
    __tracebackhide__ = True  # pytest reports the skip or failure at the test that asked
    path = reference_path(name)
    if path.is_file():
        return path
    if os.environ.get(ENV_VAR):
        pytest.fail(f"reference file {name} not found in {path.parent}, the folder {ENV_VAR} names: point it at "
                    "the project's shared/reference folder, or unset it to skip the tests that need it",
                    pytrace=False)
    pytest.skip(f"reference file {name} not found in {path.parent}: put the project's shared/reference folder "
                f"beside the clone or set {ENV_VAR}")
