CREATE INDEX `groups_enterprise_idx` ON `groups` (`enterprise_id`);--> statement-breakpoint
CREATE INDEX `groups_department_idx` ON `groups` (`department_id`);