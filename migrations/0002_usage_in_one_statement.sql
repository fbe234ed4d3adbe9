ALTER TABLE `request_log` ADD `estimated` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Hourly totals follow the request log: this fires only for rows actually inserted, so a usage
-- event delivered twice (INSERT … ON CONFLICT DO NOTHING) is counted once. A client that hung up
-- is not an error of the account.
CREATE TRIGGER `request_log_usage_hourly` AFTER INSERT ON `request_log` BEGIN
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
END;
