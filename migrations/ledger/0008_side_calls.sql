-- How a model call Dify makes beside a reply (auto-naming, suggested questions) is priced: free, a fixed
-- amount per call, or tokens estimated from what the page saw at the app's model. Each call is then an
-- entry of its own, marked with its kind; model_calls keeps the calls recorded before they were priced.
ALTER TABLE policy ADD COLUMN side_calls TEXT NOT NULL DEFAULT 'estimate'
    CHECK (side_calls IN ('free', 'fixed', 'estimate'));
ALTER TABLE policy ADD COLUMN side_call_fixed_micros INTEGER NOT NULL DEFAULT 0
    CHECK (side_call_fixed_micros >= 0);
ALTER TABLE entries ADD COLUMN side_call TEXT
    CHECK (side_call IN ('conversation_name', 'suggested_questions'));
-- A held side call keeps its kind, so the org server prices it by the side-call policy too.
ALTER TABLE held_events ADD COLUMN side_call TEXT
    CHECK (side_call IN ('conversation_name', 'suggested_questions'));
