"""`nightly_sync_users`: the full sync, every night, for when real-time pushes are not the whole story.

Pushes go Huma → Crona only and only for the users Huma names; what changes in Crona, a webhook that never
arrived and a push that failed are all caught by a full `sync_users`. Off by default: a full sync writes both
systems with the policy's winners and creates, and somebody must have chosen that policy (and reviewed a
`plan_sync`) before it runs unattended. Each connection is a partition of `sync_users`: the schedule asks for one
run per connection, each night."""

from __future__ import annotations

import dagster as dg

from ..apply.jobs import sync_users_job
from ..partitions import CONNECTION_PARTITIONS

SCHEDULE_NAME = "nightly_sync_users"
CRON = "0 2 * * *"
TIMEZONE = "Europe/Stockholm"


@dg.schedule(
    name=SCHEDULE_NAME,
    job=sync_users_job,
    cron_schedule=CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Runs the full sync_users job every night at 02:00 Europe/Stockholm, one run per connection (its "
    "partition, under its run limit): both systems read, planned with the connection's policy, written, "
    "verified, recorded and reported by email; a run stops before writing when its plan exceeds the policy's "
    "guards, and the other connections' runs are not affected. Catches what real-time pushes do not: changes "
    "made in Crona, missed webhooks, failed pushes. Off by default: turn it on (Automation → nightly_sync_users) "
    "once the policies are the ones you want to run unattended.",
)
def nightly_sync_users(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    night = f"{context.scheduled_execution_time:%Y-%m-%d}" if context.scheduled_execution_time else "now"
    return [dg.RunRequest(run_key=f"{night}/{name}", partition_key=name)
            for name in CONNECTION_PARTITIONS.get_partition_keys()]
