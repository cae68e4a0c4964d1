-- TokenDesk ledger schema. Money is INTEGER micro-credits; prices and rates are exact decimal TEXT
-- (SQLite's DECIMAL affinity would silently store REAL). Times are INTEGER unix microseconds, UTC.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
    password_hash  TEXT,
    -- Cache of SUM(entries.amount_micros), written in the same transaction as every entry; verify() checks it.
    balance_micros INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE models (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    input_usd_per_1k  TEXT NOT NULL,
    output_usd_per_1k TEXT NOT NULL,
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    needs_review      INTEGER NOT NULL DEFAULT 0 CHECK (needs_review IN (0, 1)),
    created_by        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- Exact alternative names; never prefix-matched.
CREATE TABLE model_aliases (
    alias    TEXT PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE
) STRICT;

CREATE TABLE model_price_history (
    id         INTEGER PRIMARY KEY,
    model_id   INTEGER NOT NULL REFERENCES models (id),
    old_input  TEXT,
    old_output TEXT,
    new_input  TEXT NOT NULL,
    new_output TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE exchange_rate (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    credits_per_usd TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE exchange_rate_history (
    id         INTEGER PRIMARY KEY,
    old_rate   TEXT,
    new_rate   TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE dify_apps (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    share_url   TEXT NOT NULL,
    origin      TEXT NOT NULL,
    share_token TEXT NOT NULL,
    pricing     TEXT NOT NULL CHECK (pricing IN ('model', 'dify_price')),
    model_id    INTEGER REFERENCES models (id),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    demo        INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    created_at  INTEGER NOT NULL,
    UNIQUE (origin, share_token),
    CHECK ((pricing = 'model') = (model_id IS NOT NULL))
) STRICT;

CREATE TABLE policy (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    integration_enabled   INTEGER NOT NULL CHECK (integration_enabled IN (0, 1)),
    min_balance_micros    INTEGER NOT NULL,
    event_cap_micros      INTEGER NOT NULL CHECK (event_cap_micros >= 0),       -- 0: no cap
    flood_max_per_minute  INTEGER NOT NULL CHECK (flood_max_per_minute >= 0),   -- 0: no flood guard
    low_balance_micros    INTEGER NOT NULL,
    max_tokens_per_event  INTEGER NOT NULL CHECK (max_tokens_per_event > 0),
    daily_budget_micros   INTEGER NOT NULL CHECK (daily_budget_micros >= 0),    -- 0: no budget
    monthly_budget_micros INTEGER NOT NULL CHECK (monthly_budget_micros >= 0),  -- 0: no budget
    active_account_id     INTEGER NOT NULL REFERENCES accounts (id),
    updated_by            TEXT NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;

-- The append-only ledger. Every grant, top-up, charge, adjustment and reversal is one immutable row;
-- a charge snapshots everything used to price it.
CREATE TABLE entries (
    id                TEXT PRIMARY KEY,            -- UUIDv7
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    amount_micros     INTEGER NOT NULL,            -- signed: a charge is negative
    kind              TEXT NOT NULL CHECK (kind IN ('grant', 'topup', 'charge', 'adjustment', 'reversal')),
    device_id         TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    actor             TEXT NOT NULL,
    reason            TEXT,
    reverses_id       TEXT REFERENCES entries (id),
    held_id           TEXT,                        -- the held event an approval settled
    -- usage snapshot: pricing is set on charges and on reversals of charges
    pricing           TEXT CHECK (pricing IN ('model', 'dify_price')),
    app_id            INTEGER REFERENCES dify_apps (id),
    app_name          TEXT,
    model             TEXT,
    conversation_id   TEXT,
    message_id        TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    input_usd_per_1k  TEXT,
    output_usd_per_1k TEXT,
    credits_per_usd   TEXT,
    usd_cost          TEXT,
    dify_total_price  TEXT,
    dify_currency     TEXT,
    estimated         INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
    CHECK (kind <> 'reversal' OR reverses_id IS NOT NULL)
) STRICT;

CREATE INDEX entries_by_time ON entries (account_id, created_at, id);
CREATE INDEX entries_by_app ON entries (account_id, app_id, created_at, id);
CREATE INDEX entries_by_model ON entries (account_id, model, created_at, id);
CREATE UNIQUE INDEX entries_one_reversal ON entries (reverses_id) WHERE reverses_id IS NOT NULL;

CREATE TRIGGER entries_are_immutable BEFORE UPDATE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are immutable');
END;

CREATE TRIGGER entries_are_permanent BEFORE DELETE ON entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are permanent');
END;

CREATE TABLE held_events (
    id            TEXT PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('cap', 'flood', 'conflict', 'unpriced')),
    detail        TEXT NOT NULL,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    app_id        INTEGER NOT NULL REFERENCES dify_apps (id),
    message_id    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    estimated     INTEGER NOT NULL CHECK (estimated IN (0, 1)),
    amount_micros INTEGER,                         -- the priced amount when it was held; NULL when unpriced
    payload       TEXT NOT NULL,                   -- the frame or incomplete report, as received
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    TEXT,
    decided_at    INTEGER,
    decision_note TEXT,
    entry_id      TEXT REFERENCES entries (id)
) STRICT;

CREATE INDEX held_by_status ON held_events (status, received_at);
-- One conflict record per distinct conflicting content.
CREATE UNIQUE INDEX held_one_conflict ON held_events (app_id, message_id, content_hash) WHERE reason = 'conflict';

-- Idempotency: one row per (app, message), written in the same transaction as the charge or hold it records.
CREATE TABLE event_keys (
    app_id        INTEGER NOT NULL REFERENCES dify_apps (id),
    message_id    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('charged', 'held')),
    amount_micros INTEGER,
    entry_id      TEXT REFERENCES entries (id),
    held_id       TEXT REFERENCES held_events (id),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (app_id, message_id),
    CHECK ((outcome = 'charged') = (entry_id IS NOT NULL)),
    CHECK ((outcome = 'held') = (held_id IS NOT NULL))
) STRICT, WITHOUT ROWID;

CREATE TABLE rejected_events (
    id            TEXT PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    code          TEXT NOT NULL,
    message       TEXT NOT NULL,
    source        TEXT NOT NULL,                   -- the page URL the event came from
    payload       TEXT NOT NULL,                   -- as received, cut at the payload limit
    payload_bytes INTEGER NOT NULL
) STRICT;

CREATE INDEX rejected_by_time ON rejected_events (received_at);

-- Derived spend per local day of the reporting time zone, kept in the same transaction as each usage entry
-- so the dashboard never scans the ledger. verify() recomputes it; a time-zone change rebuilds it.
CREATE TABLE daily_usage (
    account_id        INTEGER NOT NULL,
    day               INTEGER NOT NULL,            -- days from CE of the local date
    app_id            INTEGER NOT NULL,            -- 0: no app
    model             TEXT NOT NULL,               -- '': Dify's reported price
    credits_micros    INTEGER NOT NULL,            -- spent: positive for charges
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    messages          INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, app_id, model)
) STRICT, WITHOUT ROWID;
