"""Writing one system's operations the way every writing job does: through the write-back, with the audit ledger
written ahead of each request and the verification recorded. Shared by the `sync_users` write-back assets
(`assets.py`) and the `push_huma_changes` job (`realtime/jobs.py`), so both write, verify and record alike."""

import dagster as dg

from ...core.fields import CRONA, SYSTEM_NAMES
from ..crona.resources import CronaResource
from ..metadata import counts_md, frame_shape_metadata, markdown_table
from ..types import DataFrame
from .resources import LedgerResource

IMPORT_FILE_KEY = "import_file"  # the PAXml import file a sync wrote (crona_writeback's metadata)


def write_recorded(context: dg.OpExecutionContext, client, target: str, operations: DataFrame,
                   ledger: LedgerResource, drifted: "DataFrame | None" = None,
                   **write_options) -> dg.Output[DataFrame]:
    """Write one system's operations (`apply_plan`), recording each in the audit ledger ahead of its request
    (``pending``, committed before the employee's first request) and completing the same rows when the
    employee is done — in group commits off the event loop (`Ledger.write_ahead` as the write-back's
    ``journal``: employees written at about the same time share a transaction) — then the verification; the
    outcome table with what happened as metadata.
    ``drifted``: outcomes decided before writing, recorded in the ledger as such: a reviewed plan's operations of
    employees that drifted, the creates a connection's Huma scope refuses."""
    import pandas as pd

    from ...connectors.writeback import apply_plan

    book = ledger.ledger()
    run_id = context.run.run_id
    if drifted is not None and len(drifted):
        book.record(run_id, drifted)
    outcomes = apply_plan(client, target, operations,
                          journal=lambda pending, finished: book.write_ahead(run_id, pending, finished),
                          **write_options)
    book.mark_verification(run_id, outcomes)
    if drifted is not None and len(drifted):
        outcomes = pd.concat([outcomes, drifted], ignore_index=True) if len(outcomes) else drifted
    return outcome_output(context, target, outcomes)


def write_file_recorded(context: dg.OpExecutionContext, crona: CronaResource, operations: DataFrame,
                        ledger: LedgerResource, drifted: "DataFrame | None" = None) -> dg.Output[DataFrame]:
    """Crona's PAXml channel: the operations written as one import file (`connectors.paxml.import_file`), recorded
    in the audit ledger ahead of the file and completed as ``awaiting import``; the outcome table, with the file."""
    import pandas as pd

    from ...connectors.paxml import PaxmlError
    from ...connectors.paxml.import_file import settle_folder, write_import_file

    book = ledger.ledger()
    run_id = context.run.run_id
    if drifted is not None and len(drifted):
        book.record(run_id, drifted)
    folder = crona.channel_settings().import_folder()
    earlier = book.pending(except_run=run_id)  # after interrupted_writes: what Crona's export could not show yet
    open_runs = set(earlier.loc[earlier["system"] == CRONA, "run_id"])
    awaited, moved = settle_folder(folder, open_runs, book.known_runs, run_id)
    for path in moved:
        context.log.info(f"Crona Lön: {path.name} concluded (a later export shows each of its operations applied or"
                         f" not applied); moved to {path.parent}")
    try:
        outcomes, path = write_import_file(
            operations, folder, run_id, awaited=awaited,
            journal=lambda pending, finished: book.write_ahead(run_id, pending, finished))
    except PaxmlError as error:  # a bug, not data: never a file Crona Lön would refuse
        raise dg.Failure(description=f"the PAXml import file was not written: {error}", allow_retries=False) from None
    if drifted is not None and len(drifted):
        outcomes = pd.concat([outcomes, drifted], ignore_index=True) if len(outcomes) else drifted
    if path is not None:
        context.log.info(f"Crona Lön: import file {path} written; import it in Crona Lön, then export the employees"
                         " again for the next sync")
    extra = {IMPORT_FILE_KEY: dg.MetadataValue.path(str(path))} if path is not None else {}
    return outcome_output(context, CRONA, outcomes, extra)


def outcome_output(context: dg.OpExecutionContext, target: str, outcomes: DataFrame,
                   extra: dict | None = None) -> dg.Output[DataFrame]:
    """The outcome table with what happened, per status and field, as metadata."""
    from ...core.display import display_frame
    from ...core.outcomes import FAILED, UNVERIFIED

    by_status = outcomes["status"].value_counts().to_dict()
    context.log.info(f"{SYSTEM_NAMES[target]}: {len(outcomes)} operations; "
                     + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "nothing to write"))
    trouble = outcomes[outcomes["status"].isin((FAILED, UNVERIFIED))]
    return dg.Output(outcomes, metadata={
        **frame_shape_metadata(outcomes),
        **{status: int(n) for status, n in by_status.items()},
        "by_status_and_field": counts_md(outcomes, ["status", "field"]),
        "failed_or_unverified": dg.MetadataValue.md(markdown_table(
            display_frame(trouble, ("current_value", "new_value"))[
                ["employee", "action", "field", "new_value", "status", "error"]])),
        **(extra or {}),
    })
