CREATE TABLE `window_share_hourly` (
	`hour` integer NOT NULL,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`account_id` text NOT NULL,
	`window_ppm` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `group_id`, `user_id`, `account_id`)
);
--> statement-breakpoint
CREATE INDEX `window_share_hourly_group_idx` ON `window_share_hourly` (`group_id`,`hour`);--> statement-breakpoint
ALTER TABLE `request_log` ADD `window_ppm` integer;--> statement-breakpoint
ALTER TABLE `statement_late_usage` ADD `window_ppm` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `statement_lines` ADD `window_ppm` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `statements` ADD `split_fallback` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Members' shares of a subscription's plan window per hour, kept like the usage aggregates
-- (0002, 0012): a trigger on the consumer's one INSERT, so only rows actually inserted count (a
-- redelivered event adds nothing) and the table is never behind the log. Only requests with a
-- share make a row: API-key traffic writes nothing here.
CREATE TRIGGER `request_log_window_share_hourly` AFTER INSERT ON `request_log`
WHEN NEW.`window_ppm` > 0
BEGIN
  INSERT INTO `window_share_hourly` (`hour`, `group_id`, `user_id`, `account_id`, `window_ppm`)
  VALUES ((NEW.`created_at` / 3600000) * 3600000, NEW.`group_id`, NEW.`user_id`, NEW.`account_id`,
    NEW.`window_ppm`)
  ON CONFLICT (`hour`, `group_id`, `user_id`, `account_id`) DO UPDATE SET
    `window_ppm` = `window_ppm` + excluded.`window_ppm`;
END;
