"""What a push worker of the webhook receiver does (`trigger.PushTrigger` forks it from a process that imported
this module, and with it the code location, once): for each connection in turn, claim the oldest batch of the
events the receiver stored `PENDING` in that connection's inbox, create its `push_huma_changes` run(s) in the
Dagster instance (``DAGSTER_HOME``) with the tags the sensor's runs carry (among them the connection's partition,
so the run gets that connection's resources), and execute them here, until no connection has any pending. The run
is the job of the code location itself (`humacrona_pipeline.definitions`, the same resources from the
environment), so it is recorded, shown and re-executed like any other. A connection whose runs cannot be created
gives its claim back (the sensor pushes it) and is left alone by this worker; the others go on."""

from __future__ import annotations

import logging
import os

import dagster as dg
from dagster._core.definitions.reconstruct import (
    ReconstructableJob,
    ReconstructableRepository,
)
from dagster._core.execution.api import execute_run

from ... import definitions
from ...state.inbox import PENDING, Inbox
from ..partitions import CONNECTION_PARTITIONS
from .jobs import JOB_NAME
from .sensors import EVENTS_PER_TICK, RECEIVER, claim, claim_batches

log = logging.getLogger(__name__)


def reconstructable_push() -> ReconstructableJob:
    """The push job as the code location defines it, reconstructable from its module."""
    repository = ReconstructableRepository.for_module(definitions.__name__, "defs", working_directory=os.getcwd())
    return repository.get_reconstructable_job(JOB_NAME)


def preload() -> None:
    """Import, here in the fork server, what a run imports only when it runs: the modules of the code location
    import their heavy libraries where they use them (pandas, pandera, SQLAlchemy, the connectors), and Dagster
    imports its execution machinery at the first run. A forked worker then imports nothing."""
    import importlib
    import pkgutil

    import pandas  # noqa: F401
    from cryptography import fernet  # noqa: F401

    for package in ("core", "connectors", "state", "defs"):
        root = importlib.import_module(f"humacrona_pipeline.{package}")
        for module in pkgutil.walk_packages(root.__path__, f"{root.__name__}."):
            importlib.import_module(module.name)

    @dg.op
    def nothing() -> None:
        """A step of the warm-up run."""

    @dg.job(executor_def=dg.in_process_executor)
    def warm_up() -> None:
        nothing()

    with dg.DagsterInstance.ephemeral() as instance:
        warm_up.execute_in_process(instance=instance,
                                   run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    # The push's own first-call costs (schemas built, config types resolved): a few tenths of a second a run.
    import pandas as pd
    from dagster._core.execution.api import create_execution_plan

    from ...connectors.crona import CRONA_COLUMNS
    from ...connectors.huma import HUMA_COLUMNS
    from ...core.policy import Policy
    from ...core.push import NOT_PUSHED_COLUMNS, HumaChanges, plan_push
    from .sensors import Batch

    plan_push(HumaChanges([], pd.DataFrame(columns=list(HUMA_COLUMNS)), pd.DataFrame(columns=list(CRONA_COLUMNS)),
                          None, pd.DataFrame(columns=list(NOT_PUSHED_COLUMNS))), Policy())
    sample = Batch(0, 0, users={"u": {"id": "u", "email": "", "topics": ["users-update"]}})
    create_execution_plan(_PUSH.get_definition(), run_config=sample.run_config())


_PUSH = reconstructable_push()
_PUSH.get_definition().get_job_snapshot()  # loaded in the fork server, once: a forked worker starts with it
preload()


def warm() -> None:
    """Nothing: forking it starts the fork server, which loads this module."""


def push_pending(state_url: str | None = None, connections: list[str] | None = None) -> list[str]:
    """Claim the oldest batch of each connection's pending events and run it, a batch per connection in turn (so
    a busy connection does not hold up the others), until none is left; the ids of the runs executed.
    ``connections``: those to look at (None: every connection of the code location)."""
    known = CONNECTION_PARTITIONS.get_partition_keys()
    inboxes = {name: Inbox(state_url, connection=name) for name in (known if connections is None else connections)
               if name in known}
    executed: list[str] = []
    instance = dg.DagsterInstance.get()
    while inboxes:
        for name, inbox in list(inboxes.items()):
            try:
                run_ids = _push_one(inbox, instance, name)
            except Exception:  # noqa: BLE001 - one connection's failure never stops another's pushes
                log.exception("connection %s: its push could not be run here; the huma_changes_sensor will", name)
                run_ids = None
            if run_ids is None:
                del inboxes[name]
            else:
                executed += run_ids
    return executed


def _push_one(inbox: Inbox, instance: dg.DagsterInstance, connection: str) -> list[str] | None:
    for group in claim_batches(inbox.unclaimed(limit=EVENTS_PER_TICK, held=PENDING), connection=connection):
        key = claim(RECEIVER, group[0].claim_key)
        if inbox.claim(group[0].event_ids, key, held=PENDING):
            break
    else:
        return None
    runs: list[dg.DagsterRun] = []
    try:
        job = _PUSH.get_definition()
        for batch in group:
            if batch.users:
                runs.append(instance.create_run_for_job(job, run_config=batch.run_config(),
                                                        tags=batch.run_tags(RECEIVER),
                                                        job_code_origin=_PUSH.get_python_origin()))
    except BaseException:
        for run in runs:  # all of the claim's runs or none: the sensor asks for them at its next tick
            instance.delete_run(run.run_id)
        inbox.release(key)
        raise
    for run in runs:
        execute_run(_PUSH, run, instance)
    return [run.run_id for run in runs]
