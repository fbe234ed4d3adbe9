CREATE TABLE `budget_reconciliations` (
	`budget_id` text PRIMARY KEY NOT NULL,
	`period_key` text NOT NULL,
	`checked_at` integer NOT NULL,
	`counter_micros` integer NOT NULL,
	`recorded_micros` integer NOT NULL,
	`drift_micros` integer NOT NULL,
	`flagged` integer NOT NULL,
	FOREIGN KEY (`budget_id`) REFERENCES `budgets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`day` integer NOT NULL,
	`key_id` text NOT NULL,
	`user_id` text NOT NULL,
	`group_id` text NOT NULL,
	`account_id` text NOT NULL,
	`model` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_5m_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_1h_tokens` integer DEFAULT 0 NOT NULL,
	`cache_read_tokens` integer DEFAULT 0 NOT NULL,
	`cost_micros` integer DEFAULT 0 NOT NULL,
	`unpriced_requests` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`day`, `key_id`, `account_id`, `model`)
);
--> statement-breakpoint
CREATE INDEX `usage_daily_group_idx` ON `usage_daily` (`group_id`,`day`);--> statement-breakpoint
CREATE INDEX `usage_daily_user_idx` ON `usage_daily` (`user_id`,`day`);--> statement-breakpoint
CREATE INDEX `usage_daily_account_idx` ON `usage_daily` (`account_id`,`day`);--> statement-breakpoint
CREATE INDEX `usage_daily_key_idx` ON `usage_daily` (`key_id`,`day`);--> statement-breakpoint
CREATE TABLE `usage_monthly` (
	`month` integer NOT NULL,
	`key_id` text NOT NULL,
	`user_id` text NOT NULL,
	`group_id` text NOT NULL,
	`account_id` text NOT NULL,
	`model` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_5m_tokens` integer DEFAULT 0 NOT NULL,
	`cache_write_1h_tokens` integer DEFAULT 0 NOT NULL,
	`cache_read_tokens` integer DEFAULT 0 NOT NULL,
	`cost_micros` integer DEFAULT 0 NOT NULL,
	`unpriced_requests` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`month`, `key_id`, `account_id`, `model`)
);
--> statement-breakpoint
CREATE INDEX `usage_monthly_group_idx` ON `usage_monthly` (`group_id`,`month`);--> statement-breakpoint
CREATE INDEX `usage_monthly_user_idx` ON `usage_monthly` (`user_id`,`month`);--> statement-breakpoint
CREATE INDEX `usage_monthly_account_idx` ON `usage_monthly` (`account_id`,`month`);--> statement-breakpoint
CREATE INDEX `usage_monthly_key_idx` ON `usage_monthly` (`key_id`,`month`);--> statement-breakpoint
CREATE INDEX `request_log_user_idx` ON `request_log` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `request_log_account_idx` ON `request_log` (`account_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `request_log_created_idx` ON `request_log` (`created_at`);--> statement-breakpoint
CREATE INDEX `usage_hourly_key_idx` ON `usage_hourly` (`key_id`,`hour`);--> statement-breakpoint
-- Daily and monthly totals (UTC) follow the request log exactly like the hourly ones
-- (0002_usage_in_one_statement.sql): triggers on the same INSERT, so they fire only for rows the
-- pipeline actually inserted (a redelivered event adds nothing to any of them), they are never
-- behind the log, and the consumer still sends one statement per batch. Trimming the request log
-- (a DELETE) leaves every aggregate as it is.
CREATE TRIGGER `request_log_usage_daily` AFTER INSERT ON `request_log` BEGIN
  INSERT INTO `usage_daily` (`day`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, `requests`, `errors`,
    `input_tokens`, `output_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `cache_read_tokens`,
    `cost_micros`, `unpriced_requests`)
  VALUES ((NEW.`created_at` / 86400000) * 86400000, NEW.`key_id`, NEW.`user_id`, NEW.`group_id`, NEW.`account_id`,
    NEW.`model`, 1,
    CASE WHEN NEW.`outcome` = 'client_abort' THEN 0
         WHEN NEW.`status` >= 400 OR NEW.`error_type` IS NOT NULL OR NEW.`outcome` IN ('upstream_error', 'failed') THEN 1
         ELSE 0 END,
    NEW.`input_tokens`, NEW.`output_tokens`, NEW.`cache_write_5m_tokens`, NEW.`cache_write_1h_tokens`,
    NEW.`cache_read_tokens`, NEW.`cost_micros`, NEW.`unpriced`)
  ON CONFLICT (`day`, `key_id`, `account_id`, `model`) DO UPDATE SET
    `requests` = `requests` + 1,
    `errors` = `errors` + excluded.`errors`,
    `input_tokens` = `input_tokens` + excluded.`input_tokens`,
    `output_tokens` = `output_tokens` + excluded.`output_tokens`,
    `cache_write_5m_tokens` = `cache_write_5m_tokens` + excluded.`cache_write_5m_tokens`,
    `cache_write_1h_tokens` = `cache_write_1h_tokens` + excluded.`cache_write_1h_tokens`,
    `cache_read_tokens` = `cache_read_tokens` + excluded.`cache_read_tokens`,
    `cost_micros` = `cost_micros` + excluded.`cost_micros`,
    `unpriced_requests` = `unpriced_requests` + excluded.`unpriced_requests`;
END;--> statement-breakpoint
CREATE TRIGGER `request_log_usage_monthly` AFTER INSERT ON `request_log` BEGIN
  INSERT INTO `usage_monthly` (`month`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, `requests`, `errors`,
    `input_tokens`, `output_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `cache_read_tokens`,
    `cost_micros`, `unpriced_requests`)
  VALUES (CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000, NEW.`key_id`, NEW.`user_id`, NEW.`group_id`, NEW.`account_id`,
    NEW.`model`, 1,
    CASE WHEN NEW.`outcome` = 'client_abort' THEN 0
         WHEN NEW.`status` >= 400 OR NEW.`error_type` IS NOT NULL OR NEW.`outcome` IN ('upstream_error', 'failed') THEN 1
         ELSE 0 END,
    NEW.`input_tokens`, NEW.`output_tokens`, NEW.`cache_write_5m_tokens`, NEW.`cache_write_1h_tokens`,
    NEW.`cache_read_tokens`, NEW.`cost_micros`, NEW.`unpriced`)
  ON CONFLICT (`month`, `key_id`, `account_id`, `model`) DO UPDATE SET
    `requests` = `requests` + 1,
    `errors` = `errors` + excluded.`errors`,
    `input_tokens` = `input_tokens` + excluded.`input_tokens`,
    `output_tokens` = `output_tokens` + excluded.`output_tokens`,
    `cache_write_5m_tokens` = `cache_write_5m_tokens` + excluded.`cache_write_5m_tokens`,
    `cache_write_1h_tokens` = `cache_write_1h_tokens` + excluded.`cache_write_1h_tokens`,
    `cache_read_tokens` = `cache_read_tokens` + excluded.`cache_read_tokens`,
    `cost_micros` = `cost_micros` + excluded.`cost_micros`,
    `unpriced_requests` = `unpriced_requests` + excluded.`unpriced_requests`;
END;--> statement-breakpoint
-- The usage recorded before these tables existed, rolled up from its hourly rows.
INSERT INTO `usage_daily` (`day`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, `requests`, `errors`,
    `input_tokens`, `output_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `cache_read_tokens`,
    `cost_micros`, `unpriced_requests`)
  SELECT (`hour` / 86400000) * 86400000 AS `b`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, sum(`requests`), sum(`errors`),
    sum(`input_tokens`), sum(`output_tokens`), sum(`cache_write_5m_tokens`), sum(`cache_write_1h_tokens`),
    sum(`cache_read_tokens`), sum(`cost_micros`), sum(`unpriced_requests`)
  FROM `usage_hourly` GROUP BY `b`, `key_id`, `account_id`, `model`;--> statement-breakpoint
INSERT INTO `usage_monthly` (`month`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, `requests`, `errors`,
    `input_tokens`, `output_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `cache_read_tokens`,
    `cost_micros`, `unpriced_requests`)
  SELECT CAST(strftime('%s', `hour` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 AS `b`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, sum(`requests`), sum(`errors`),
    sum(`input_tokens`), sum(`output_tokens`), sum(`cache_write_5m_tokens`), sum(`cache_write_1h_tokens`),
    sum(`cache_read_tokens`), sum(`cost_micros`), sum(`unpriced_requests`)
  FROM `usage_hourly` GROUP BY `b`, `key_id`, `account_id`, `model`;
