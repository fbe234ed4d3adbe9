-- A budget goes with what it limits: a department's when the department is deleted, a group's
-- (its group, member and key budgets, which all carry the group) when the group is; keys are
-- deleted only with their group. Left behind, they would still be listed, counted by the
-- enterprise's ledger and reconciled by the cron, limiting nothing. Triggers, so that every path
-- that deletes holds to it. First, those already left behind.
DELETE FROM `budgets` WHERE `scope` = 'department' AND `scope_id` NOT IN (SELECT `id` FROM `departments`);--> statement-breakpoint
DELETE FROM `budgets` WHERE `group_id` IS NOT NULL AND `group_id` NOT IN (SELECT `id` FROM `groups`);--> statement-breakpoint
CREATE TRIGGER `departments_delete_budgets` AFTER DELETE ON `departments`
BEGIN
  DELETE FROM `budgets` WHERE `scope` = 'department' AND `scope_id` = OLD.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `groups_delete_budgets` AFTER DELETE ON `groups`
BEGIN
  DELETE FROM `budgets` WHERE `group_id` = OLD.`id`;
END;
