-- Rehearsals of an outage (`mailcanary drill`), kept apart from the checks and their incidents.
CREATE TABLE drills (
    id                  INTEGER PRIMARY KEY,
    mailbox             TEXT    NOT NULL,
    started_at_ms       INTEGER NOT NULL,
    acknowledged_at_ms  INTEGER,
    ended_at_ms         INTEGER
);
CREATE INDEX drills_by_mailbox_time ON drills (mailbox, started_at_ms);

-- What staff told the monitor (acknowledge, snooze), from any process: the monitor applies
-- rows newer than the last it saw.
CREATE TABLE controls (
    id         INTEGER PRIMARY KEY,
    mailbox    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('ack', 'snooze')),
    at_ms      INTEGER NOT NULL,
    until_ms   INTEGER
);
CREATE INDEX controls_by_mailbox_time ON controls (mailbox, at_ms);
