-- Sync with an org server. Enrolled, this ledger mirrors the server's config read-only, numbers the charges
-- and held events it authors (device_seq, gap-free), and pushes them; the server is the balance's authority.

-- One row once enrolled; none on an island.
CREATE TABLE sync_state (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    server_url            TEXT NOT NULL,
    org_id                TEXT NOT NULL,
    org_name              TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    user_name             TEXT NOT NULL,
    device_id             TEXT NOT NULL,           -- the server's id for this device
    device_token          TEXT NOT NULL,
    account_id            INTEGER NOT NULL REFERENCES accounts (id),
    config_version        INTEGER NOT NULL DEFAULT 0,
    next_seq              INTEGER NOT NULL DEFAULT 1,
    acked_seq             INTEGER NOT NULL DEFAULT 0,
    server_balance_micros INTEGER NOT NULL DEFAULT 0,
    lease_micros          INTEGER NOT NULL DEFAULT 0,
    lease_base_seq        INTEGER NOT NULL DEFAULT 0,
    lease_expires_at      INTEGER NOT NULL DEFAULT 0,
    revoked               INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    enrolled_at           INTEGER NOT NULL,
    last_sync_at          INTEGER,
    last_error            TEXT,
    CHECK (acked_seq < next_seq)
) STRICT;

ALTER TABLE entries ADD COLUMN device_seq INTEGER;
ALTER TABLE entries ADD COLUMN config_version INTEGER;
CREATE UNIQUE INDEX entries_by_device_seq ON entries (device_seq) WHERE device_seq IS NOT NULL;

-- The server's id of each app it owns, so a snapshot updates the mirror in place.
ALTER TABLE dify_apps ADD COLUMN server_id TEXT;
CREATE UNIQUE INDEX dify_apps_by_server_id ON dify_apps (server_id) WHERE server_id IS NOT NULL;

-- Held events gain the reason 'offline_allowance', the tokens the server needs to decide them, and their
-- place in the push sequence. SQLite cannot alter a CHECK, so the table is rebuilt.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE held_events_new (
    id                 TEXT PRIMARY KEY,
    received_at        INTEGER NOT NULL,
    reason             TEXT NOT NULL CHECK (reason IN ('cap', 'flood', 'conflict', 'unpriced', 'offline_allowance')),
    detail             TEXT NOT NULL,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    app_id             INTEGER NOT NULL REFERENCES dify_apps (id),
    message_id         TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    estimated          INTEGER NOT NULL CHECK (estimated IN (0, 1)),
    amount_micros      INTEGER,
    payload            TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by         TEXT,
    decided_at         INTEGER,
    decision_note      TEXT,
    entry_id           TEXT REFERENCES entries (id),
    priced_as_model_id INTEGER REFERENCES models (id),
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    dify_total_price   TEXT,
    dify_currency      TEXT,
    device_seq         INTEGER,
    config_version     INTEGER
) STRICT;
INSERT INTO held_events_new (id, received_at, reason, detail, account_id, app_id, message_id, content_hash,
    estimated, amount_micros, payload, status, decided_by, decided_at, decision_note, entry_id, priced_as_model_id)
SELECT id, received_at, reason, detail, account_id, app_id, message_id, content_hash,
    estimated, amount_micros, payload, status, decided_by, decided_at, decision_note, entry_id, priced_as_model_id
FROM held_events;
DROP TABLE held_events;
ALTER TABLE held_events_new RENAME TO held_events;
CREATE INDEX held_by_status ON held_events (status, received_at);
CREATE UNIQUE INDEX held_one_conflict ON held_events (app_id, message_id, content_hash) WHERE reason = 'conflict';
CREATE UNIQUE INDEX held_by_device_seq ON held_events (device_seq) WHERE device_seq IS NOT NULL;
