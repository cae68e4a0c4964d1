-- Every wrong admin password, kept so that logins can be limited across restarts and an admin sees who
-- tried. Times in UTC micros.
CREATE TABLE admin_login_failures (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    at INTEGER NOT NULL
);
CREATE INDEX admin_login_failures_by_account ON admin_login_failures (account_id, at);
