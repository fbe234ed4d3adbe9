CREATE TABLE `budget_turns` (
	`budget_id` text PRIMARY KEY NOT NULL,
	`taken_at` integer NOT NULL,
	FOREIGN KEY (`budget_id`) REFERENCES `budgets`(`id`) ON UPDATE no action ON DELETE cascade
);
