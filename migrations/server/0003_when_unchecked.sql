-- What a device does with a send its gate could not check: an org's devices block it unless the admin
-- lets such sends through (each is then recorded).
ALTER TABLE policy ADD COLUMN when_unchecked TEXT NOT NULL DEFAULT 'block'
    CHECK (when_unchecked IN ('allow', 'block'));
