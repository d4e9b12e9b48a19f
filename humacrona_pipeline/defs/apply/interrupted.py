"""The start of every writing job: resolve what a killed run left ``pending`` in the audit ledger.

Thin wiring around the step `defs.apply.interrupted_op` shares with the push's `resolve_interrupted_writes`
op: the `interrupted_writes` asset runs first in `sync_users` (`sync_plan` waits for it, so nothing is planned
before the ledger knows what the killed run did). Reading needs no confirmation: nothing is written to Huma or
Crona here, only the ledger's pending rows concluded."""

import dagster as dg

from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from ..metadata import markdown_table
from ..partitions import CONNECTION_PARTITIONS, require_partition
from .interrupted_op import resolve_step
from .resources import LedgerResource

ASSET_NAME = "interrupted_writes"


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    name=ASSET_NAME,
    group_name="apply",
    kinds={"python", "huma", "crona"},
    description="Resolves the writes an interrupted (killed) run left `pending` in the audit ledger, and the "
    "PAXml writes `awaiting import`, before anything is planned: each employee is read back from the system "
    "written (on the PAXml channel: Crona's newest export) and each row marked `applied` or `not applied` (with "
    "resolved_at); one that cannot be read stays open for the next run, as does an import awaited from an export "
    "older than its file.",
)
def interrupted_writes(context: dg.AssetExecutionContext, huma: HumaResource, crona: CronaResource,
                       ledger: LedgerResource) -> dg.MaterializeResult:
    require_partition(context)  # which connection: never a run of none
    resolution = resolve_step(context, huma, crona, ledger)
    rows = resolution.rows
    shown = rows[["run_id", "system", "employee", "field", "value_after", "status", "note"]] if not rows.empty \
        else rows
    return dg.MaterializeResult(metadata={
        "pending_found": len(rows),
        **{status.replace(" ", "_"): n for status, n in resolution.counts().items()},
        "resolved": dg.MetadataValue.md(markdown_table(shown)),
    })

