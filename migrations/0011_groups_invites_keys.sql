ALTER TABLE `groups` ADD `key_bounds` text;--> statement-breakpoint
ALTER TABLE `invites` ADD `email` text;--> statement-breakpoint
ALTER TABLE `invites` ADD `revoked_at` integer;--> statement-breakpoint
CREATE INDEX `invites_group_idx` ON `invites` (`group_id`);--> statement-breakpoint
-- A group never holds more members than its max_members, whatever path adds them (an owner, an
-- invite, the operator) and however many at once: D1 runs one statement at a time, so the count
-- this reads includes every insert before it. The message is read by worker/db/constraints.ts.
CREATE TRIGGER `group_members_max_members` BEFORE INSERT ON `group_members`
WHEN (SELECT count(*) FROM `group_members` WHERE `group_id` = NEW.`group_id`)
  >= (SELECT `max_members` FROM `groups` WHERE `id` = NEW.`group_id`)
BEGIN
  SELECT RAISE(ABORT, 'group_full');
END;
--> statement-breakpoint
-- A key belongs to a member of its group: a key made for someone at the moment they are removed
-- (whose removal revokes their keys in the same batch) cannot slip in after it.
CREATE TRIGGER `api_keys_owner_is_member` BEFORE INSERT ON `api_keys`
WHEN NOT EXISTS (SELECT 1 FROM `group_members` WHERE `group_id` = NEW.`group_id` AND `user_id` = NEW.`user_id`)
BEGIN
  SELECT RAISE(ABORT, 'key_owner_not_member');
END;
