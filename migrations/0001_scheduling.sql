ALTER TABLE `enterprises` ADD `pools` text;--> statement-breakpoint
ALTER TABLE `groups` ADD `scheduling` text;