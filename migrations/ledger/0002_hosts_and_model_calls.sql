-- Extra hosts the chat window may navigate to (e.g. the company's SSO login). They never get IPC.
CREATE TABLE navigation_hosts (
    origin   TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
) STRICT;

-- Calls that spend tokens without a message_end (conversation auto-naming, suggested questions),
-- recorded so an admin can see them and a later policy can price them.
CREATE TABLE model_calls (
    id              TEXT PRIMARY KEY,
    received_at     INTEGER NOT NULL,
    app_id          INTEGER NOT NULL REFERENCES dify_apps (id),
    kind            TEXT NOT NULL CHECK (kind IN ('conversation_name', 'suggested_questions')),
    conversation_id TEXT,
    message_id      TEXT
) STRICT;
