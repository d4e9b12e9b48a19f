"""The write-back's parts (`connectors.writeback` is its entry point): one employee's rows and their outcome
(`employees`), the group-committed write-ahead record (`journal`), what both systems' writers share
(`writer`), each system's calls (`crona_writer`, `huma_writer`) and the read-back (`verify`)."""
