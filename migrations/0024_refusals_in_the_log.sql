-- Requests refused before any upstream call (a budget, a key's limit or rule, no account for the
-- model…) are request-log rows too (`outcome` = 'refused', no account, zero tokens and cost), so
-- the log shows why a member's requests failed. They are no usage: the aggregates behind reports,
-- bills, splits and budget reconciliation skip them, as if they had never been inserted. The
-- triggers of 0002 and 0012 are recreated with that one condition; everything else is as it was.
-- (The window-share trigger of 0015 already needs a share, which a refusal never has.)
DROP TRIGGER `request_log_usage_hourly`;--> statement-breakpoint
DROP TRIGGER `request_log_usage_daily`;--> statement-breakpoint
DROP TRIGGER `request_log_usage_monthly`;--> statement-breakpoint
CREATE TRIGGER `request_log_usage_hourly` AFTER INSERT ON `request_log`
WHEN NEW.`outcome` <> 'refused'
BEGIN
  INSERT INTO `usage_hourly` (`hour`, `key_id`, `user_id`, `group_id`, `account_id`, `model`, `requests`, `errors`,
    `input_tokens`, `output_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `cache_read_tokens`,
    `cost_micros`, `unpriced_requests`)
  VALUES ((NEW.`created_at` / 3600000) * 3600000, NEW.`key_id`, NEW.`user_id`, NEW.`group_id`, NEW.`account_id`,
    NEW.`model`, 1,
    CASE WHEN NEW.`outcome` = 'client_abort' THEN 0
         WHEN NEW.`status` >= 400 OR NEW.`error_type` IS NOT NULL OR NEW.`outcome` IN ('upstream_error', 'failed') THEN 1
         ELSE 0 END,
    NEW.`input_tokens`, NEW.`output_tokens`, NEW.`cache_write_5m_tokens`, NEW.`cache_write_1h_tokens`,
    NEW.`cache_read_tokens`, NEW.`cost_micros`, NEW.`unpriced`)
  ON CONFLICT (`hour`, `key_id`, `account_id`, `model`) DO UPDATE SET
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
CREATE TRIGGER `request_log_usage_daily` AFTER INSERT ON `request_log`
WHEN NEW.`outcome` <> 'refused'
BEGIN
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
CREATE TRIGGER `request_log_usage_monthly` AFTER INSERT ON `request_log`
WHEN NEW.`outcome` <> 'refused'
BEGIN
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
END;
