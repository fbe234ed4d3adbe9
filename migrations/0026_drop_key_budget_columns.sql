-- The old per-key budgets: nothing has answered, accepted or enforced them since a key's budget
-- became a budget with scope `key`. DROP COLUMN rewrites the table in place, so its rows, indexes,
-- foreign keys and owner trigger stay (test/migrations.test.ts).
ALTER TABLE `api_keys` DROP COLUMN `daily_budget_micros`;--> statement-breakpoint
ALTER TABLE `api_keys` DROP COLUMN `monthly_budget_micros`;