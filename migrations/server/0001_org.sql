-- TokenDesk org server schema (PostgreSQL 15). Money is BIGINT micro-credits; prices and rates are exact
-- NUMERIC. org_id leads every key, so an org's rows stay together and the tables can be distributed by org.

CREATE TABLE orgs (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    -- Bumped by every admin transaction (UPDATE ... RETURNING): the row lock orders config writers.
    config_version BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The whole config as devices see it, one row per version, written in the transaction that made it.
-- A pushed charge is re-priced against the snapshot of the version it names.
CREATE TABLE config_snapshots (
    org_id     UUID NOT NULL REFERENCES orgs (id),
    version    BIGINT NOT NULL,
    snapshot   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, version)
);

CREATE TABLE users (
    org_id         UUID NOT NULL REFERENCES orgs (id),
    id             UUID NOT NULL,
    name           TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
    password_hash  TEXT,                          -- argon2id, admins only
    -- Cache of SUM(entries.amount_micros) over counted entries, written in the same transaction.
    balance_micros BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name),
    CHECK (role = 'admin' OR password_hash IS NULL)
);

CREATE TABLE admin_sessions (
    token_hash  TEXT PRIMARY KEY,                 -- SHA-256 hex of the bearer token
    org_id      UUID NOT NULL,
    user_id     UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);

-- Failed logins, for the rate limit per account and per address. Kept in the database, not in memory,
-- so replicas share it.
CREATE TABLE login_failures (
    id        BIGSERIAL PRIMARY KEY,
    org_id    UUID,
    name      TEXT NOT NULL,
    address   TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_name ON login_failures (name, failed_at);
CREATE INDEX login_failures_by_address ON login_failures (address, failed_at);

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    org_id     UUID NOT NULL,
    user_id    UUID NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    device_id  UUID,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);

CREATE TABLE devices (
    org_id        UUID NOT NULL,
    id            UUID NOT NULL,
    user_id       UUID NOT NULL,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    revoked       BOOLEAN NOT NULL DEFAULT false,
    revoked_at    TIMESTAMPTZ,
    -- The highest device_seq committed: a push must continue from here.
    last_seq      BIGINT NOT NULL DEFAULT 0,
    last_seen     TIMESTAMPTZ,
    clock_skew_ms BIGINT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);

CREATE TABLE models (
    org_id           UUID NOT NULL REFERENCES orgs (id),
    name             TEXT NOT NULL,
    input_usd_per_1k  NUMERIC NOT NULL CHECK (input_usd_per_1k >= 0),
    output_usd_per_1k NUMERIC NOT NULL CHECK (output_usd_per_1k >= 0),
    active           BOOLEAN NOT NULL DEFAULT true,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, name)
);

-- Exact alternative names; never prefix-matched.
CREATE TABLE model_aliases (
    org_id UUID NOT NULL,
    alias  TEXT NOT NULL,
    model  TEXT NOT NULL,
    PRIMARY KEY (org_id, alias),
    FOREIGN KEY (org_id, model) REFERENCES models (org_id, name) ON DELETE CASCADE
);

CREATE TABLE model_price_history (
    id             BIGSERIAL PRIMARY KEY,
    org_id         UUID NOT NULL,
    model          TEXT NOT NULL,
    old_input      NUMERIC,
    old_output     NUMERIC,
    new_input      NUMERIC NOT NULL,
    new_output     NUMERIC NOT NULL,
    changed_by     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    changed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    config_version BIGINT NOT NULL
);
CREATE INDEX model_price_history_by_model ON model_price_history (org_id, model, id);

CREATE TABLE exchange_rate (
    org_id          UUID PRIMARY KEY REFERENCES orgs (id),
    credits_per_usd NUMERIC NOT NULL CHECK (credits_per_usd > 0),
    updated_by      TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE exchange_rate_history (
    id             BIGSERIAL PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES orgs (id),
    old_rate       NUMERIC,
    new_rate       NUMERIC NOT NULL,
    changed_by     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    changed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    config_version BIGINT NOT NULL
);

CREATE TABLE dify_apps (
    org_id     UUID NOT NULL REFERENCES orgs (id),
    id         UUID NOT NULL,
    name       TEXT NOT NULL,
    share_url  TEXT NOT NULL,
    pricing    TEXT NOT NULL CHECK (pricing IN ('model', 'dify_price')),
    model      TEXT,
    enabled    BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, share_url),
    CHECK ((pricing = 'model') = (model IS NOT NULL))
);

-- The guards every device enforces, and the offline allowance reserved per device.
CREATE TABLE policy (
    org_id                   UUID PRIMARY KEY REFERENCES orgs (id),
    integration_enabled      BOOLEAN NOT NULL DEFAULT true,
    min_balance_micros       BIGINT NOT NULL DEFAULT 0,
    event_cap_micros         BIGINT NOT NULL DEFAULT 5000000000 CHECK (event_cap_micros >= 0),
    flood_max_per_minute     BIGINT NOT NULL DEFAULT 30 CHECK (flood_max_per_minute >= 0),
    low_balance_micros       BIGINT NOT NULL DEFAULT 1000000000,
    max_tokens_per_event     BIGINT NOT NULL DEFAULT 2000000 CHECK (max_tokens_per_event > 0),
    daily_budget_micros      BIGINT NOT NULL DEFAULT 0 CHECK (daily_budget_micros >= 0),
    monthly_budget_micros    BIGINT NOT NULL DEFAULT 0 CHECK (monthly_budget_micros >= 0),
    offline_allowance_micros BIGINT NOT NULL DEFAULT 1000000000 CHECK (offline_allowance_micros >= 0),
    lease_seconds            BIGINT NOT NULL DEFAULT 604800 CHECK (lease_seconds > 0)
);

CREATE TABLE navigation_hosts (
    org_id UUID NOT NULL REFERENCES orgs (id),
    origin TEXT NOT NULL,
    PRIMARY KEY (org_id, origin)
);

-- The append-only ledger. Device-authored rows carry (device_id, device_seq); admin-authored rows do not.
-- A charge that another device already made, or whose price the server disputes, is kept uncounted.
CREATE TABLE entries (
    org_id         UUID NOT NULL,
    id             UUID NOT NULL,
    user_id        UUID NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('grant', 'topup', 'adjustment', 'charge', 'reversal')),
    amount_micros  BIGINT NOT NULL,
    counted        BOOLEAN NOT NULL,
    device_id      UUID,
    device_seq     BIGINT,
    content_hash   TEXT,
    config_version BIGINT,
    occurred_at    TIMESTAMPTZ NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor          TEXT NOT NULL,
    reason         TEXT,
    reverses_id    UUID,
    held_id        UUID,
    -- the usage snapshot (wire form), on charges and on reversals of charges
    app_id         UUID,
    message_id     TEXT,
    model          TEXT,
    prompt_tokens  BIGINT,
    completion_tokens BIGINT,
    -- JSON, not JSONB: stored as sent (parsing into JSONB cost more than the rest of the row), read whole.
    usage          JSON,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, device_id, device_seq),
    -- No foreign key to users (its per-row check was a third of the push's insert): every writer locks
    -- the user's row first (entries::lock_user), and users are never deleted.
    CHECK ((device_id IS NULL) = (device_seq IS NULL)),
    CHECK (kind <> 'reversal' OR reverses_id IS NOT NULL)
);
-- The per-user listing; reports scan the org's rows, so no index by time alone.
CREATE INDEX entries_by_user ON entries (org_id, user_id, received_at);
CREATE UNIQUE INDEX entries_one_reversal ON entries (org_id, reverses_id) WHERE reverses_id IS NOT NULL;

CREATE FUNCTION entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable';
END;
$$;
CREATE TRIGGER entries_are_immutable BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_refuse_change();

-- One counted charge per (org, Dify app, message id) across all devices.
CREATE TABLE charge_keys (
    org_id     UUID NOT NULL,
    app_id     UUID NOT NULL,
    message_id TEXT NOT NULL,
    entry_id   UUID NOT NULL,
    PRIMARY KEY (org_id, app_id, message_id)
);

-- Held events: pushed by devices (cap, flood, conflict, unpriced, offline_allowance) or made by the
-- server when its re-pricing disagrees with a device (quarantined).
CREATE TABLE held_events (
    org_id               UUID NOT NULL,
    id                   UUID NOT NULL,
    reason               TEXT NOT NULL CHECK (reason IN ('cap', 'flood', 'conflict', 'unpriced',
                                                         'offline_allowance', 'quarantined')),
    detail               TEXT NOT NULL,
    user_id              UUID NOT NULL,
    device_id            UUID,
    device_seq           BIGINT,
    content_hash         TEXT,
    config_version       BIGINT NOT NULL,
    app_id               UUID NOT NULL,
    message_id           TEXT NOT NULL,
    prompt_tokens        BIGINT NOT NULL,
    completion_tokens    BIGINT NOT NULL,
    estimated            BOOLEAN NOT NULL,
    dify_total_price     NUMERIC,
    dify_currency        TEXT,
    device_amount_micros BIGINT,
    server_amount_micros BIGINT,
    payload              TEXT NOT NULL,       -- the item as pushed
    -- the quarantined entry, when the hold is a disputed charge
    entry_id             UUID,
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    received_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by           TEXT,
    decided_at           TIMESTAMPTZ,
    note                 TEXT,
    settled_entry_id     UUID,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, device_id, device_seq),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);
CREATE INDEX held_by_status ON held_events (org_id, status, received_at);
-- A replayed push finds the hold of its quarantined charge.
CREATE INDEX held_by_entry ON held_events (org_id, entry_id) WHERE entry_id IS NOT NULL;

-- At most one open lease per device: the offline allowance reserved for it.
CREATE TABLE leases (
    org_id        UUID NOT NULL,
    device_id     UUID NOT NULL,
    user_id       UUID NOT NULL,
    amount_micros BIGINT NOT NULL CHECK (amount_micros >= 0),
    base_seq      BIGINT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, device_id),
    FOREIGN KEY (org_id, device_id) REFERENCES devices (org_id, id)
);
CREATE INDEX leases_by_user ON leases (org_id, user_id);

-- Every admin action: who, what, and the values it set.
CREATE TABLE audit (
    id     BIGSERIAL PRIMARY KEY,
    org_id UUID NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail JSONB NOT NULL,
    at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_by_org ON audit (org_id, id);
