-- Enrolled, the user's budgets and their spend across all their devices, as the server counted at the
-- last push; this device adds its own charges the server has not acknowledged yet. Times in UTC micros.
ALTER TABLE sync_state ADD COLUMN budget_daily_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_monthly_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_spent_today_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_spent_month_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_day_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_day_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_month_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN budget_month_end INTEGER NOT NULL DEFAULT 0;
-- 1 once a push answered (with or without a budget): from then on the server's word replaces the local count.
ALTER TABLE sync_state ADD COLUMN budget_known INTEGER NOT NULL DEFAULT 0 CHECK (budget_known IN (0, 1));
