-- The first schema of the case database. Written once for SQLite and PostgreSQL: {{ID}} is the
-- auto-numbered key of each (see db.rs). Times are RFC 3339 UTC text (`2026-11-24T10:00:00Z`),
-- which sorts as time in both engines. Each version has a `*_key` twin: its numeric parts
-- zero-padded (`0000000008.0000000004.0000000008.0000000000`), so `drbd<8.4.8` is a text
-- comparison the index can serve, and 8.4 = 8.4.0 as the rules compare versions.

CREATE TABLE bundles (
    id {{ID}},
    sha256 TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    host TEXT NOT NULL,
    host_lower TEXT NOT NULL,
    case_id TEXT,
    label TEXT,
    started_at TEXT,
    finished_at TEXT,
    tool_name TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    files BIGINT NOT NULL,
    imported_at TEXT NOT NULL,
    os TEXT NOT NULL,
    os_release TEXT NOT NULL,
    kernel TEXT NOT NULL,
    drbd TEXT,
    drbd_key TEXT,
    drbd_utils TEXT,
    drbd_utils_key TEXT,
    bsr TEXT,
    bsr_key TEXT,
    bsr_utils TEXT,
    bsr_utils_key TEXT,
    drx TEXT,
    drx_key TEXT
);

CREATE INDEX bundles_host ON bundles (host_lower, started_at);
CREATE INDEX bundles_started ON bundles (started_at);
CREATE INDEX bundles_case ON bundles (case_id);
CREATE INDEX bundles_drbd ON bundles (drbd_key);
CREATE INDEX bundles_bsr ON bundles (bsr_key);
CREATE INDEX bundles_drx ON bundles (drx_key);

CREATE TABLE resources (
    bundle_id BIGINT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (bundle_id, name)
);

CREATE TABLE findings (
    bundle_id BIGINT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    path TEXT,
    line BIGINT,
    detail TEXT,
    PRIMARY KEY (bundle_id, seq)
);

CREATE INDEX findings_rule ON findings (rule, bundle_id);
