ALTER TABLE `audit_log` ADD `actor_id` text;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `enterprise_id` text;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `group_id` text;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `ip` text;--> statement-breakpoint
CREATE INDEX `audit_log_enterprise_idx` ON `audit_log` (`enterprise_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_group_idx` ON `audit_log` (`group_id`,`at`);