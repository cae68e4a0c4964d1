-- A send the relay let through on the gate state it held, which the gate, asked beside the request,
-- refused (the state changed in between, or the page forged it): recorded like an unchecked send.
-- SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE unchecked_sends_new (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    app_id      INTEGER REFERENCES dify_apps (id),
    page_url    TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('no_answer', 'failed', 'past_refusal'))
) STRICT;
INSERT INTO unchecked_sends_new SELECT id, received_at, app_id, page_url, endpoint, reason FROM unchecked_sends;
DROP TABLE unchecked_sends;
ALTER TABLE unchecked_sends_new RENAME TO unchecked_sends;
