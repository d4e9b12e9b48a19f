-- Run once by the postgres image on an empty data volume (docker-compose.yml mounts it): the state database
-- (audit ledger, webhook inbox) beside Dagster's own, owned by the same user. HUMACRONA_STATE_URL names it.
CREATE DATABASE humacrona_state;
