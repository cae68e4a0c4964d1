-- Every wrong admin password, kept so that logins can be limited across restarts and an admin sees who
-- tried. Times in UTC micros.
CREATE TABLE admin_login_failures (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    at INTEGER NOT NULL
);
CREATE INDEX admin_login_failures_by_account ON admin_login_failures (account_id, at);

-- Each time the wall clock was found behind the newest entry by more than a second: the entry took the
-- time just after the newest instead, so history and ids keep their order. Times in UTC micros.
CREATE TABLE clock_steps_back (
    id INTEGER PRIMARY KEY,
    clock_at INTEGER NOT NULL,
    newest_entry_at INTEGER NOT NULL
);

-- What the relay does with a send the gate could not check: an island lets it through and records it;
-- an org's devices take the org's choice (block unless its admin says otherwise).
ALTER TABLE policy ADD COLUMN when_unchecked TEXT NOT NULL DEFAULT 'allow'
    CHECK (when_unchecked IN ('allow', 'block'));
-- A device enrolled before this takes the org's default now, not at the org's next change of config.
UPDATE policy SET when_unchecked = 'block' WHERE EXISTS (SELECT 1 FROM sync_state);

-- Every send let through without a check, for the admin to see.
CREATE TABLE unchecked_sends (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    app_id      INTEGER REFERENCES dify_apps (id),
    page_url    TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('no_answer', 'failed'))
) STRICT;
