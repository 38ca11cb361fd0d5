-- Each mailbox's health as the monitor last knew it, so a restart during an incident neither
-- raises it again nor forgets it.
CREATE TABLE health (
    mailbox        TEXT PRIMARY KEY,
    state          TEXT    NOT NULL,  -- JSON of the core's Health
    updated_at_ms  INTEGER NOT NULL
);
