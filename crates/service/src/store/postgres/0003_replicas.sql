-- Each replica's last sign of life, so that the others can settle what a replica that died left:
-- its pending changes become unknown and its running syncs abandoned once it has been silent for
-- twice the lease's time.
CREATE TABLE replicas (
    id      TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
