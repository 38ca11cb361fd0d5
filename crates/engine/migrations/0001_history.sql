-- Every check, with its stages, findings and canary outcome.
CREATE TABLE checks (
    id              INTEGER PRIMARY KEY,
    mailbox         TEXT    NOT NULL,
    started_at_ms   INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    summary         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    canary_id       TEXT,
    canary_folder   TEXT,
    canary_latency_ms INTEGER,
    canary_cleaned  INTEGER NOT NULL,
    report          TEXT    NOT NULL  -- the whole report, JSON schema 1
);
CREATE INDEX checks_by_mailbox_time ON checks (mailbox, started_at_ms);
CREATE INDEX checks_by_time ON checks (started_at_ms);

CREATE TABLE stages (
    check_id  INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    stage     TEXT    NOT NULL,
    protocol  TEXT,
    ok        INTEGER NOT NULL,
    ms        INTEGER NOT NULL,
    detail    TEXT    NOT NULL,
    PRIMARY KEY (check_id, seq)
);

CREATE TABLE findings (
    check_id  INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    category  TEXT    NOT NULL,
    severity  TEXT    NOT NULL,
    stage     TEXT    NOT NULL,
    summary   TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    evidence  TEXT    NOT NULL,
    PRIMARY KEY (check_id, seq)
);
