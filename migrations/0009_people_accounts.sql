ALTER TABLE `users` ADD `disabled_at` integer;--> statement-breakpoint
-- An account is either one carpool's (groups.bound_account_id, unique) or one enterprise's
-- (accounts.enterprise_id), never both, whichever path writes it. A message starting with
-- `conflict: ` is answered as a 409 with the rest of it (worker/api/errors.ts).
CREATE TRIGGER `groups_bind_no_pool_account_insert` BEFORE INSERT ON `groups`
WHEN NEW.bound_account_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM accounts WHERE id = NEW.bound_account_id AND enterprise_id IS NOT NULL)
BEGIN
  SELECT RAISE(ABORT, 'conflict: This account is in an enterprise pool; an account is either one carpool''s or one enterprise''s.');
END;--> statement-breakpoint
CREATE TRIGGER `groups_bind_no_pool_account_update` BEFORE UPDATE OF bound_account_id ON `groups`
WHEN NEW.bound_account_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM accounts WHERE id = NEW.bound_account_id AND enterprise_id IS NOT NULL)
BEGIN
  SELECT RAISE(ABORT, 'conflict: This account is in an enterprise pool; an account is either one carpool''s or one enterprise''s.');
END;--> statement-breakpoint
CREATE TRIGGER `accounts_pool_not_bound_insert` BEFORE INSERT ON `accounts`
WHEN NEW.enterprise_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM groups WHERE bound_account_id = NEW.id)
BEGIN
  SELECT RAISE(ABORT, 'conflict: This account is bound to a carpool group; an account is either one carpool''s or one enterprise''s.');
END;--> statement-breakpoint
CREATE TRIGGER `accounts_pool_not_bound_update` BEFORE UPDATE OF enterprise_id ON `accounts`
WHEN NEW.enterprise_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM groups WHERE bound_account_id = NEW.id)
BEGIN
  SELECT RAISE(ABORT, 'conflict: This account is bound to a carpool group; an account is either one carpool''s or one enterprise''s.');
END;--> statement-breakpoint
-- An enterprise keeps at least one owner once it has one (removal and demotion race in D1 itself).
CREATE TRIGGER `enterprise_members_keep_owner_delete` BEFORE DELETE ON `enterprise_members`
WHEN OLD.role = 'owner'
  AND EXISTS (SELECT 1 FROM enterprises WHERE id = OLD.enterprise_id)
  AND NOT EXISTS (SELECT 1 FROM enterprise_members
    WHERE enterprise_id = OLD.enterprise_id AND role = 'owner' AND user_id != OLD.user_id)
BEGIN
  SELECT RAISE(ABORT, 'conflict: An enterprise keeps at least one owner: make another member owner first.');
END;--> statement-breakpoint
CREATE TRIGGER `enterprise_members_keep_owner_update` BEFORE UPDATE OF role ON `enterprise_members`
WHEN OLD.role = 'owner' AND NEW.role != 'owner'
  AND NOT EXISTS (SELECT 1 FROM enterprise_members
    WHERE enterprise_id = OLD.enterprise_id AND role = 'owner' AND user_id != OLD.user_id)
BEGIN
  SELECT RAISE(ABORT, 'conflict: An enterprise keeps at least one owner: make another member owner first.');
END;--> statement-breakpoint
-- Departments are a tree one level deep: a parent is a top-level department of the same
-- enterprise, and a department with sub-departments has no parent.
CREATE TRIGGER `departments_one_level_insert` BEFORE INSERT ON `departments`
WHEN NEW.parent_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM departments
    WHERE id = NEW.parent_id AND enterprise_id = NEW.enterprise_id AND parent_id IS NULL)
BEGIN
  SELECT RAISE(ABORT, 'conflict: A department''s parent is a top-level department of the same enterprise (one level deep).');
END;--> statement-breakpoint
CREATE TRIGGER `departments_one_level_update` BEFORE UPDATE OF parent_id ON `departments`
WHEN NEW.parent_id IS NOT NULL
  AND (NEW.parent_id = NEW.id
    OR NOT EXISTS (SELECT 1 FROM departments
      WHERE id = NEW.parent_id AND enterprise_id = NEW.enterprise_id AND parent_id IS NULL)
    OR EXISTS (SELECT 1 FROM departments WHERE parent_id = NEW.id))
BEGIN
  SELECT RAISE(ABORT, 'conflict: A department''s parent is a top-level department of the same enterprise, and a department with sub-departments stays top-level (one level deep).');
END;
