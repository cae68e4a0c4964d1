-- Per-user budgets, the zone budget days and months follow, and redemption codes.

-- A user's own budgets; NULL follows the org's policy, 0 is no budget.
ALTER TABLE users ADD COLUMN daily_budget_micros BIGINT CHECK (daily_budget_micros >= 0);
ALTER TABLE users ADD COLUMN monthly_budget_micros BIGINT CHECK (monthly_budget_micros >= 0);

-- The IANA zone whose days and months budgets reset in.
ALTER TABLE policy ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- Single-use codes worth a fixed amount, made in batches by an admin and redeemed by staff. Only the
-- code's hash is kept; the plain codes are shown once, when the batch is made.
CREATE TABLE redemption_codes (
    org_id          UUID NOT NULL REFERENCES orgs (id),
    id              UUID NOT NULL,
    batch_id        UUID NOT NULL,
    code_hash       TEXT NOT NULL UNIQUE,
    amount_micros   BIGINT NOT NULL CHECK (amount_micros > 0),
    reason          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ,
    redeemed_by     UUID,
    redeemed_device UUID,
    redeemed_at     TIMESTAMPTZ,
    entry_id        UUID,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, redeemed_by) REFERENCES users (org_id, id),
    CHECK ((redeemed_by IS NULL) = (redeemed_at IS NULL) AND (redeemed_at IS NULL) = (entry_id IS NULL))
);
CREATE INDEX redemption_codes_by_time ON redemption_codes (org_id, created_at);

-- A redemption is an entry of its own kind that names its code.
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check
    CHECK (kind IN ('grant', 'topup', 'adjustment', 'charge', 'reversal', 'redemption'));
ALTER TABLE entries ADD COLUMN redemption_code_id UUID;
ALTER TABLE entries ADD CONSTRAINT entries_redemption_names_its_code
    CHECK ((kind = 'redemption') = (redemption_code_id IS NOT NULL));
