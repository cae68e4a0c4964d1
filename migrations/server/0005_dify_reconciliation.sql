-- Reconciliation with Dify's own records: the org's Dify workspaces, Dify's record of every message and
-- workflow run, what each settlement found, and Dify's daily totals.

-- A Dify workspace the server reads as a console user (email and password) or with the admin API key.
-- The secrets stay in this table: no API answer, log line or config snapshot carries them.
CREATE TABLE dify_connections (
    org_id        UUID NOT NULL REFERENCES orgs (id),
    id            UUID NOT NULL,
    name          TEXT NOT NULL,
    console_url   TEXT NOT NULL,
    auth          TEXT NOT NULL CHECK (auth IN ('password', 'admin_api_key')),
    email         TEXT,
    password      TEXT,
    admin_api_key TEXT,
    workspace_id  TEXT,
    -- The console account's zone: Dify reads `start`/`end` and buckets its daily statistics in it.
    time_zone     TEXT NOT NULL DEFAULT 'UTC',
    -- Messages before this are never read (the first run's reach back).
    reconcile_from TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The scheduler's state: consecutive failures, when to try again, and the last error and gaps.
    failures      INT NOT NULL DEFAULT 0,
    next_run_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_run_at   TIMESTAMPTZ,
    last_error    TEXT,
    missing_endpoints TEXT[] NOT NULL DEFAULT '{}',
    -- When Dify refused the sign-in. The scheduler then stops trying: each try counts toward Dify's
    -- login lockout (more than 5 refusals lock the account, for a day by default). A test or a run an
    -- admin starts tries again and clears it on success.
    sign_in_refused_at TIMESTAMPTZ,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name),
    CHECK ((auth = 'password') = (email IS NOT NULL AND password IS NOT NULL)),
    CHECK ((auth = 'admin_api_key') = (admin_api_key IS NOT NULL AND workspace_id IS NOT NULL))
);

-- Which console app of a workspace each metered app is, found by matching the share code.
CREATE TABLE dify_app_links (
    org_id         UUID NOT NULL,
    app_id         UUID NOT NULL,
    connection_id  UUID NOT NULL,
    console_app_id TEXT NOT NULL,
    mode           TEXT NOT NULL,
    -- Conversations updated since this were read by the last complete pass (minus the overlap).
    read_until     TIMESTAMPTZ,
    PRIMARY KEY (org_id, app_id),
    FOREIGN KEY (org_id, app_id) REFERENCES dify_apps (org_id, id),
    FOREIGN KEY (org_id, connection_id) REFERENCES dify_connections (org_id, id) ON DELETE CASCADE
);

-- Dify's record of one message (or workflow run), as last read. Rewritten while Dify fills it in; settled
-- once, when final, and never again.
CREATE TABLE dify_records (
    org_id            UUID NOT NULL,
    app_id            UUID NOT NULL,
    record_id         TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('message', 'workflow_run')),
    conversation_id   TEXT,
    from_source       TEXT,
    end_user_id       TEXT,
    session_id        TEXT,
    status            TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT NOT NULL CHECK (completion_tokens >= 0),
    total_price       NUMERIC,
    currency          TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    read_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at        TIMESTAMPTZ,
    PRIMARY KEY (org_id, app_id, record_id)
);
CREATE INDEX dify_records_unsettled ON dify_records (org_id, created_at) WHERE settled_at IS NULL;

-- What settling found, one row per (record, kind): the unique key is what makes a repeated or resumed run
-- add nothing. `charge_without_record` rows name the charge's message id.
CREATE TABLE reconcile_findings (
    org_id            UUID NOT NULL,
    id                UUID NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('true_up', 'reported_by_dify', 'unattributed',
                                                    'charge_without_record')),
    app_id            UUID NOT NULL,
    record_id         TEXT NOT NULL,
    user_id           UUID,
    -- The device that should have seen an unreported reply, or that made a charge Dify has no record of.
    device_id         UUID,
    -- The entry this finding made (true-up, reported charge), or the charge it is about.
    entry_id          UUID,
    ledger_micros     BIGINT,
    dify_micros       BIGINT,
    detail            TEXT NOT NULL,
    found_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, app_id, record_id, kind)
);
CREATE INDEX reconcile_findings_by_time ON reconcile_findings (org_id, found_at);

-- Dify's own daily totals per app (`statistics/token-costs`), for the daily control.
CREATE TABLE dify_daily_costs (
    org_id      UUID NOT NULL,
    app_id      UUID NOT NULL,
    day         DATE NOT NULL,
    token_count BIGINT NOT NULL,
    total_price NUMERIC NOT NULL,
    currency    TEXT NOT NULL,
    read_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, app_id, day)
);

-- A true-up corrects a charge by Dify's record; a reported charge bills a reply no device reported.
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check
    CHECK (kind IN ('grant', 'topup', 'adjustment', 'charge', 'reversal', 'redemption', 'true_up',
                    'reported_by_dify'));
-- Finds the entries of one message fast: settling reads them for every record.
CREATE INDEX entries_by_message ON entries (org_id, app_id, message_id) WHERE message_id IS NOT NULL;

-- Devices that missed replies Dify served to their user.
ALTER TABLE devices ADD COLUMN unreported_replies BIGINT NOT NULL DEFAULT 0;
