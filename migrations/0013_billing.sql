CREATE TABLE `bill_adjustments` (
	`id` text PRIMARY KEY NOT NULL,
	`group_id` text NOT NULL,
	`month` text NOT NULL,
	`user_id` text NOT NULL,
	`amount_micros` integer NOT NULL,
	`reason` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `bill_adjustments_group_month_idx` ON `bill_adjustments` (`group_id`,`month`);--> statement-breakpoint
CREATE TABLE `membership_periods` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`joined_at` integer NOT NULL,
	`left_at` integer,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `membership_periods_group_idx` ON `membership_periods` (`group_id`,`user_id`);--> statement-breakpoint
CREATE TABLE `statement_late_usage` (
	`statement_id` text NOT NULL,
	`from_month` text NOT NULL,
	`user_id` text NOT NULL,
	`requests` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cache_write_5m_tokens` integer NOT NULL,
	`cache_write_1h_tokens` integer NOT NULL,
	`cache_read_tokens` integer NOT NULL,
	`cost_micros` integer NOT NULL,
	`metered_micros` integer NOT NULL,
	PRIMARY KEY(`statement_id`, `from_month`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `statement_lines` (
	`statement_id` text NOT NULL,
	`user_id` text NOT NULL,
	`user_name` text NOT NULL,
	`days_present` integer NOT NULL,
	`requests` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cache_write_5m_tokens` integer NOT NULL,
	`cache_write_1h_tokens` integer NOT NULL,
	`cache_read_tokens` integer NOT NULL,
	`cost_micros` integer NOT NULL,
	`metered_micros` integer NOT NULL,
	`late_cost_micros` integer NOT NULL,
	`late_metered_micros` integer NOT NULL,
	`fee_part_micros` integer NOT NULL,
	`usage_part_micros` integer NOT NULL,
	`adjustments_micros` integer NOT NULL,
	`amount_micros` integer NOT NULL,
	PRIMARY KEY(`statement_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `statement_settlements` (
	`statement_id` text NOT NULL,
	`user_id` text NOT NULL,
	`settled` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	PRIMARY KEY(`statement_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `statements` (
	`id` text PRIMARY KEY NOT NULL,
	`group_id` text NOT NULL,
	`month` text NOT NULL,
	`time_zone` text NOT NULL,
	`period_start` integer NOT NULL,
	`period_end` integer NOT NULL,
	`split_mode` text NOT NULL,
	`prorate_by_days` integer NOT NULL,
	`fee_payer_user_id` text,
	`account_id` text,
	`fixed_fee_micros` integer NOT NULL,
	`metered_micros` integer NOT NULL,
	`late_metered_micros` integer NOT NULL,
	`bill_micros` integer NOT NULL,
	`adjustments_micros` integer NOT NULL,
	`total_micros` integer NOT NULL,
	`adjustment_count` integer NOT NULL,
	`closed_at` integer NOT NULL,
	`closed_by` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `statements_group_month_unique` ON `statements` (`group_id`,`month`);--> statement-breakpoint
ALTER TABLE `accounts` ADD `monthly_fee_micros` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `accounts` ADD `metered_billing` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `groups` ADD `prorate_by_days` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `groups` ADD `time_zone` text DEFAULT 'UTC' NOT NULL;--> statement-breakpoint
ALTER TABLE `groups` ADD `fee_payer_user_id` text;--> statement-breakpoint
-- Membership history, kept by the database whatever path adds or removes a member (an owner, an
-- invite, leaving, removal, a group's deletion): a stay opens on insert and closes on delete.
CREATE TRIGGER `group_members_period_open` AFTER INSERT ON `group_members`
BEGIN
  INSERT INTO `membership_periods` (`group_id`, `user_id`, `joined_at`, `left_at`)
  VALUES (NEW.`group_id`, NEW.`user_id`, NEW.`created_at`, NULL);
END;
--> statement-breakpoint
CREATE TRIGGER `group_members_period_close` AFTER DELETE ON `group_members`
BEGIN
  UPDATE `membership_periods` SET `left_at` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE `group_id` = OLD.`group_id` AND `user_id` = OLD.`user_id` AND `left_at` IS NULL;
END;
--> statement-breakpoint
-- Today's members, from when they joined (history before this migration is not known).
INSERT INTO `membership_periods` (`group_id`, `user_id`, `joined_at`, `left_at`)
SELECT `group_id`, `user_id`, `created_at`, NULL FROM `group_members`;
--> statement-breakpoint
-- A closed month is a record: its statement, lines and carried late usage never change.
CREATE TRIGGER `statements_immutable_update` BEFORE UPDATE ON `statements`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statements_immutable_delete` BEFORE DELETE ON `statements`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statement_lines_immutable_update` BEFORE UPDATE ON `statement_lines`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statement_lines_immutable_delete` BEFORE DELETE ON `statement_lines`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statement_late_usage_immutable_update` BEFORE UPDATE ON `statement_late_usage`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statement_late_usage_immutable_delete` BEFORE DELETE ON `statement_late_usage`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
-- A statement freezes the adjustments of its month: it is refused if one was added since they were
-- read (the close is retried), and none can be added, changed or removed once it exists.
CREATE TRIGGER `statements_adjustments_read` BEFORE INSERT ON `statements`
WHEN NEW.`adjustment_count` <> (SELECT count(*) FROM `bill_adjustments`
  WHERE `group_id` = NEW.`group_id` AND `month` = NEW.`month`)
BEGIN
  SELECT RAISE(ABORT, 'statement_adjustments_changed');
END;
--> statement-breakpoint
CREATE TRIGGER `bill_adjustments_open_insert` BEFORE INSERT ON `bill_adjustments`
WHEN EXISTS (SELECT 1 FROM `statements` WHERE `group_id` = NEW.`group_id` AND `month` = NEW.`month`)
BEGIN
  SELECT RAISE(ABORT, 'month_closed');
END;
--> statement-breakpoint
CREATE TRIGGER `bill_adjustments_open_update` BEFORE UPDATE ON `bill_adjustments`
WHEN EXISTS (SELECT 1 FROM `statements` WHERE `group_id` = OLD.`group_id` AND `month` = OLD.`month`)
BEGIN
  SELECT RAISE(ABORT, 'month_closed');
END;
--> statement-breakpoint
CREATE TRIGGER `bill_adjustments_open_delete` BEFORE DELETE ON `bill_adjustments`
WHEN EXISTS (SELECT 1 FROM `statements` WHERE `group_id` = OLD.`group_id` AND `month` = OLD.`month`)
BEGIN
  SELECT RAISE(ABORT, 'month_closed');
END;
