"""Real time: the webhook inbox read by `huma_changes_sensor`, the `push_huma_changes` job that pushes the
named Huma users to Crona, and the (off by default) `nightly_sync_users` schedule."""
