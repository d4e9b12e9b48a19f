"""Where a run keeps its assets' outputs: encrypted files, or nothing at rest.

The outputs hold every employee's full bank account (the write needs it), so they never reach disk in clear.
With `HUMACRONA_STORAGE_KEY` (a Fernet key the operator makes with `humacrona key`) each output is pickled,
encrypted and written readable by its owner only under ``<DAGSTER_HOME>/storage/<asset key>``, like Dagster's
filesystem IO manager, so a run from the UI can re-materialise one asset from the stored ones. Without it the
outputs live in memory for the run only (the jobs run every step in one process): nothing at rest, but
re-materialising one asset needs its upstream assets in the same run."""

from __future__ import annotations

import os
import pickle
from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
from dagster._core.storage.mem_io_manager import InMemoryIOManager
from dagster._utils import PICKLE_PROTOCOL
from pydantic import Field

from ..state.files import write_private

STORAGE_KEY_ENV = "HUMACRONA_STORAGE_KEY"
NOT_KEPT = (f"outputs are not kept between runs ({STORAGE_KEY_ENV} is unset); set {STORAGE_KEY_ENV} to keep "
            "them, encrypted (make one with `humacrona key`)")


class StoredOutputUnreadable(Exception):
    """A stored output this run cannot use: written with another key, or never kept."""


def _asset_name(context: dg.InputContext | dg.OutputContext) -> str:
    if context.has_asset_key:
        return context.asset_key.to_user_string()
    upstream = getattr(context, "upstream_output", None)
    return upstream.name if upstream is not None else context.name


class EncryptedPickleIOManager(PickledObjectFilesystemIOManager):
    """Dagster's filesystem IO manager, with each pickle encrypted (Fernet) and written mode 0600."""

    def __init__(self, base_dir: str, storage_key: str) -> None:
        from cryptography.fernet import Fernet

        super().__init__(base_dir=base_dir)
        try:
            self._fernet = Fernet(storage_key.strip())
        except ValueError:  # never the key itself
            raise ValueError(f"{STORAGE_KEY_ENV} is not a Fernet key; make one with `humacrona key`") from None

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path) -> None:
        write_private(os.fspath(path), self._fernet.encrypt(pickle.dumps(obj, PICKLE_PROTOCOL)))

    def load_from_path(self, context: dg.InputContext, path) -> Any:
        from cryptography.fernet import InvalidToken

        with path.open("rb") as file:
            token = file.read()
        try:
            return pickle.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise StoredOutputUnreadable(
                f"stored output of {_asset_name(context)} was written with another {STORAGE_KEY_ENV}; "
                "rerun the job that makes it") from None


class RunMemoryIOManager(InMemoryIOManager):
    """Outputs kept in this run's memory only; a missing one says why instead of a bare KeyError."""

    def load_input(self, context: dg.InputContext) -> object:
        try:
            return super().load_input(context)
        except KeyError:
            raise StoredOutputUnreadable(
                f"{_asset_name(context)} was not made in this run and {NOT_KEPT}; materialise it together with "
                "the assets that use it") from None


class HumacronaIOManager(dg.ConfigurableIOManagerFactory):
    """Encrypted files under ``<DAGSTER_HOME>/storage`` with a storage key; in memory for the run without."""

    storage_key: str | None = Field(
        default=None, repr=False,
        description=f"A Fernet key ({STORAGE_KEY_ENV}; `humacrona key` makes one); unset: outputs are kept in "
                    "memory for the run only.")

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        if self.storage_key:
            return EncryptedPickleIOManager(base_dir=context.instance.storage_directory(),
                                            storage_key=self.storage_key)
        if context.log is not None:
            context.log.info(NOT_KEPT)
        return RunMemoryIOManager()


def io_manager_from_env() -> HumacronaIOManager:
    """The IO manager bound to `HUMACRONA_STORAGE_KEY` when it is set (never read before a run needs it)."""
    if os.environ.get(STORAGE_KEY_ENV, "").strip():
        return HumacronaIOManager(storage_key=dg.EnvVar(STORAGE_KEY_ENV))
    return HumacronaIOManager()
