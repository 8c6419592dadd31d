-- Each tenant's next sync and the lease of the replica running it: a claim takes the lease when it
-- is free (or expired) and the sync is due, bumping the fencing token; the sync's commit releases
-- it and sets the next due time, in the transaction that writes the results, only while the token
-- is still the claimant's.
CREATE TABLE schedule (
    tenant        TEXT PRIMARY KEY,
    next_due      TIMESTAMPTZ NOT NULL,
    holder        TEXT,
    token         BIGINT NOT NULL,
    lease_expires TIMESTAMPTZ
);
CREATE INDEX schedule_by_holder ON schedule (holder) WHERE holder IS NOT NULL;
