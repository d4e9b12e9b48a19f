"""Resolving what a killed run left ``pending`` in the audit ledger, shared by the writing jobs: the step both
the `interrupted_writes` asset (`defs.apply.interrupted`, first in `sync_users`) and the
`resolve_interrupted_writes` op (first in `push_huma_changes`) run. Kept out of the asset module so a job
imports no asset module for it. Reading needs no confirmation: nothing is written to Huma or Crona here, only
the ledger's pending rows concluded. Per connection: the run's resources are its partition's connection's, so only
that connection's pending rows are read back, from its own Huma and Crona."""

from typing import TYPE_CHECKING

import dagster as dg

from ..connection import connection_failures
from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from .resources import LedgerResource

if TYPE_CHECKING:  # the resolution (pandas, the ledger, the clients) is imported by the steps that run it
    from ...connectors.resolve import Resolution


def resolve_step(context: dg.OpExecutionContext, huma: HumaResource, crona: CronaResource,
                 ledger: LedgerResource) -> "Resolution":
    """Resolve the pending rows other runs left; log what was concluded."""
    from ...connectors.resolve import resolve_pending

    with connection_failures():
        resolution = resolve_pending(ledger.ledger(), huma.client, crona.client, except_run=context.run.run_id)
    counts = resolution.counts()
    context.log.info("pending writes of interrupted runs: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    return resolution


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Resolves the writes an interrupted run left `pending` in the audit ledger (read back, marked "
    "`applied` or `not applied`), before the push reads and writes anything.",
)
def resolve_interrupted_writes(context: dg.OpExecutionContext, huma: HumaResource, crona: CronaResource,
                               ledger: LedgerResource) -> None:
    resolve_step(context, huma, crona, ledger)
