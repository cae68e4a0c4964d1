-- A held event that was priced as another model than its app's (a diagnostics simulation) keeps that
-- model, so approving it charges what was shown. NULL: priced as the app is bound.
ALTER TABLE held_events ADD COLUMN priced_as_model_id INTEGER REFERENCES models (id);
