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
