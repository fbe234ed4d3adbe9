CREATE TABLE `close_failures` (
	`group_id` text NOT NULL,
	`month` text NOT NULL,
	`failed_at` integer NOT NULL,
	PRIMARY KEY(`group_id`, `month`),
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
