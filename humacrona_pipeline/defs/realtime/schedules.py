"""`nightly_sync_users`: the full sync, every night, for when real-time pushes are not the whole story.

Pushes go Huma → Crona only and only for the users Huma names; what changes in Crona, a webhook that never
arrived and a push that failed are all caught by a full `sync_users`. Off by default: a full sync writes both
systems with the policy's winners and creates, and somebody must have chosen that policy (and reviewed a
`plan_sync`) before it runs unattended."""

from __future__ import annotations

import dagster as dg

from ..apply.jobs import sync_users_job

SCHEDULE_NAME = "nightly_sync_users"
CRON = "0 2 * * *"
TIMEZONE = "Europe/Stockholm"

nightly_sync_users = dg.ScheduleDefinition(
    name=SCHEDULE_NAME,
    job=sync_users_job,
    cron_schedule=CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Runs the full sync_users job every night at 02:00 Europe/Stockholm: both systems read, planned "
    "with the `policy` resource (HUMACRONA_POLICY_FILE), written, verified, recorded and reported by email; it "
    "stops before writing when the plan exceeds the policy's guards. Catches what real-time pushes do not: "
    "changes made in Crona, missed webhooks, failed pushes. Off by default: turn it on (Automation → "
    "nightly_sync_users) once the policy is the one you want to run unattended.",
)
