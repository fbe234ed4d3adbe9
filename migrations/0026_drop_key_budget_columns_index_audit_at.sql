-- The old per-key budgets: nothing has answered, accepted or enforced them since a key's budget
-- became a budget with scope `key`. DROP COLUMN rewrites the table in place, so its rows, indexes,
-- foreign keys and owner trigger stay (test/migrations.test.ts).
-- And an index on audit_log.at for a system admin's unscoped read of the log, newest first by
-- (at, id) (test/usage-audit.test.ts checks the plan).
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
ALTER TABLE `api_keys` DROP COLUMN `daily_budget_micros`;--> statement-breakpoint
ALTER TABLE `api_keys` DROP COLUMN `monthly_budget_micros`;