"""The start of every writing job: resolve what a killed run left ``pending`` in the audit ledger.

Thin wiring around `connectors.resolve.resolve_pending`: the `interrupted_writes` asset runs first in
`sync_users` (`sync_plan` waits for it, so nothing is planned before the ledger knows what the killed run
did), the `resolve_interrupted_writes` op first in `push_huma_changes`. Reading needs no confirmation: nothing
is written to Huma or Crona here, only the ledger's pending rows concluded."""

from typing import TYPE_CHECKING

import dagster as dg

from ..connection import connection_failures
from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from ..metadata import markdown_table
from .resources import LedgerResource

if TYPE_CHECKING:  # the resolution (pandas, the ledger, the clients) is imported by the steps that run it
    from ...connectors.resolve import Resolution

ASSET_NAME = "interrupted_writes"


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


@dg.asset(
    name=ASSET_NAME,
    group_name="apply",
    kinds={"python", "huma", "crona"},
    description="Resolves the writes an interrupted (killed) run left `pending` in the audit ledger, before "
    "anything is planned: each employee is read back from the system written and each pending row marked "
    "`applied` or `not applied` (with resolved_at); one that cannot be read stays pending for the next run.",
)
def interrupted_writes(context: dg.AssetExecutionContext, huma: HumaResource, crona: CronaResource,
                       ledger: LedgerResource) -> dg.MaterializeResult:
    resolution = resolve_step(context, huma, crona, ledger)
    rows = resolution.rows
    shown = rows[["run_id", "system", "employee", "field", "value_after", "status", "note"]] if not rows.empty \
        else rows
    return dg.MaterializeResult(metadata={
        "pending_found": len(rows),
        **{status.replace(" ", "_"): n for status, n in resolution.counts().items()},
        "resolved": dg.MetadataValue.md(markdown_table(shown)),
    })


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Resolves the writes an interrupted run left `pending` in the audit ledger (read back, marked "
    "`applied` or `not applied`), before the push reads and writes anything.",
)
def resolve_interrupted_writes(context: dg.OpExecutionContext, huma: HumaResource, crona: CronaResource,
                               ledger: LedgerResource) -> None:
    resolve_step(context, huma, crona, ledger)
