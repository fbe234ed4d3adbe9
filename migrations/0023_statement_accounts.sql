CREATE TABLE `statement_accounts` (
	`statement_id` text NOT NULL,
	`account_id` text NOT NULL,
	`metered_billing` integer NOT NULL,
	PRIMARY KEY(`statement_id`, `account_id`)
);
--> statement-breakpoint
-- Statements closed before this table: each account with usage in the statement's period, and its
-- bound account. Their rule at close was not recorded; it is read back from the statement where it
-- says (usage but no metered cost: fee-only; all of it metered: metered), else today's setting (an
-- account deleted since counts as metered, as a bill counts it).
WITH `seen` AS (
  SELECT s.`id` AS `statement_id`, u.`account_id` AS `account_id`
  FROM `statements` s JOIN `usage_hourly` u ON u.`group_id` = s.`group_id`
    AND u.`hour` >= ((s.`period_start` + 3599999) / 3600000) * 3600000
    AND u.`hour` < ((s.`period_end` + 3599999) / 3600000) * 3600000
  UNION
  SELECT `id`, `account_id` FROM `statements` WHERE `account_id` IS NOT NULL
), `said` AS (
  SELECT s.`id` AS `statement_id`,
    CASE WHEN c.`cost` > 0 AND s.`metered_micros` = 0 THEN 0
         WHEN c.`cost` > 0 AND s.`metered_micros` = c.`cost` THEN 1 END AS `metered`
  FROM `statements` s JOIN (
    SELECT `statement_id`, sum(`cost_micros`) AS `cost` FROM `statement_lines` GROUP BY `statement_id`
  ) c ON c.`statement_id` = s.`id`
)
INSERT INTO `statement_accounts` (`statement_id`, `account_id`, `metered_billing`)
SELECT `seen`.`statement_id`, `seen`.`account_id`, coalesce(`said`.`metered`, a.`metered_billing`, 1)
FROM `seen` LEFT JOIN `said` ON `said`.`statement_id` = `seen`.`statement_id`
LEFT JOIN `accounts` a ON a.`id` = `seen`.`account_id`;
--> statement-breakpoint
CREATE TRIGGER `statement_accounts_immutable_update` BEFORE UPDATE ON `statement_accounts`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
--> statement-breakpoint
CREATE TRIGGER `statement_accounts_immutable_delete` BEFORE DELETE ON `statement_accounts`
BEGIN
  SELECT RAISE(ABORT, 'statement_immutable');
END;
