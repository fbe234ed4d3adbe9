ALTER TABLE `budgets` ADD `enterprise_id` text;--> statement-breakpoint
ALTER TABLE `budgets` ADD `department_id` text;--> statement-breakpoint
ALTER TABLE `budgets` ADD `group_id` text;--> statement-breakpoint
ALTER TABLE `budgets` ADD `user_id` text;--> statement-breakpoint
ALTER TABLE `budgets` ADD `key_id` text;--> statement-breakpoint
ALTER TABLE `budgets` ADD `mode` text DEFAULT 'hard' NOT NULL;--> statement-breakpoint
ALTER TABLE `budgets` ADD `time_zone` text DEFAULT 'UTC' NOT NULL;--> statement-breakpoint
CREATE INDEX `budgets_enterprise_idx` ON `budgets` (`enterprise_id`);--> statement-breakpoint
CREATE INDEX `budgets_group_idx` ON `budgets` (`group_id`);