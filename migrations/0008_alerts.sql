CREATE TABLE `alert_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`endpoint_id` text NOT NULL,
	`firing_id` text,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`last_status` integer,
	`last_error` text,
	`next_attempt_at` integer,
	`claimed_until` integer,
	`delivered_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`endpoint_id`) REFERENCES `alert_endpoints`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`firing_id`) REFERENCES `alert_firings`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `alert_deliveries_endpoint_idx` ON `alert_deliveries` (`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_due_idx` ON `alert_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `alert_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`enterprise_id` text,
	`group_id` text,
	`name` text NOT NULL,
	`format` text NOT NULL,
	`url_enc` text NOT NULL,
	`url_hint` text NOT NULL,
	`secret_enc` text NOT NULL,
	`vendor_secret_enc` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`enterprise_id`) REFERENCES `enterprises`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "alert_endpoints_one_scope" CHECK("alert_endpoints"."enterprise_id" IS NULL OR "alert_endpoints"."group_id" IS NULL)
);
--> statement-breakpoint
CREATE INDEX `alert_endpoints_enterprise_idx` ON `alert_endpoints` (`enterprise_id`);--> statement-breakpoint
CREATE INDEX `alert_endpoints_group_idx` ON `alert_endpoints` (`group_id`);--> statement-breakpoint
CREATE TABLE `alert_firings` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`subject_id` text NOT NULL,
	`period` text NOT NULL,
	`threshold` integer DEFAULT 0 NOT NULL,
	`status` text DEFAULT 'firing' NOT NULL,
	`silenced` integer DEFAULT false NOT NULL,
	`event` text NOT NULL,
	`fired_at` integer NOT NULL,
	`resolved_at` integer,
	FOREIGN KEY (`rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alert_firings_once` ON `alert_firings` (`rule_id`,`subject_id`,`period`,`threshold`);--> statement-breakpoint
CREATE INDEX `alert_firings_rule_idx` ON `alert_firings` (`rule_id`,`fired_at`);--> statement-breakpoint
CREATE TABLE `alert_rule_endpoints` (
	`rule_id` text NOT NULL,
	`endpoint_id` text NOT NULL,
	PRIMARY KEY(`rule_id`, `endpoint_id`),
	FOREIGN KEY (`rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`endpoint_id`) REFERENCES `alert_endpoints`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_rule_endpoints_endpoint_idx` ON `alert_rule_endpoints` (`endpoint_id`);--> statement-breakpoint
CREATE TABLE `alert_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`enterprise_id` text,
	`group_id` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`subject_id` text,
	`params` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`enterprise_id`) REFERENCES `enterprises`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "alert_rules_one_scope" CHECK("alert_rules"."enterprise_id" IS NULL OR "alert_rules"."group_id" IS NULL)
);
--> statement-breakpoint
CREATE INDEX `alert_rules_kind_idx` ON `alert_rules` (`kind`,`enterprise_id`,`group_id`);--> statement-breakpoint
CREATE TABLE `alert_silences` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`subject_id` text,
	`ends_at` integer NOT NULL,
	`comment` text DEFAULT '' NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_silences_rule_idx` ON `alert_silences` (`rule_id`,`ends_at`);