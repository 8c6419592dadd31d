-- The service's state, as SQLite keeps it (crates/service/src/store/sqlite.rs), in PostgreSQL's
-- types. Times are RFC 3339 text, as both back ends answer them.
CREATE TABLE syncs (
    id          BIGSERIAL PRIMARY KEY,
    tenant      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL,
    error       TEXT,
    resources   BIGINT,
    grants      BIGINT,
    requests    BIGINT,
    duration_ms BIGINT,
    replica     TEXT
);
CREATE INDEX syncs_by_tenant ON syncs (tenant, id);
CREATE INDEX syncs_running ON syncs (replica) WHERE outcome = 'running';
CREATE TABLE snapshots (
    sync_id    BIGINT PRIMARY KEY REFERENCES syncs (id),
    tenant     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    snapshot   BYTEA NOT NULL,
    diff       TEXT
);
CREATE INDEX snapshots_by_tenant ON snapshots (tenant, sync_id);
CREATE TABLE audit (
    id         BIGSERIAL PRIMARY KEY,
    at         TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    operation  TEXT NOT NULL,
    arguments  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    result     TEXT NOT NULL,
    request_id TEXT,
    settled_at TEXT,
    replica    TEXT
);
CREATE INDEX audit_by_tenant ON audit (tenant, id);
CREATE INDEX audit_pending ON audit (replica) WHERE outcome = 'pending';
