ALTER TABLE `budgets` ADD `authority` text DEFAULT 'group' NOT NULL;--> statement-breakpoint
-- Budgets made before this column: a department's or enterprise's was set by the enterprise's
-- owners or admins; any other stays with the group's managers (its maker is not recorded).
UPDATE `budgets` SET `authority` = 'enterprise' WHERE `scope` IN ('enterprise', 'department');
