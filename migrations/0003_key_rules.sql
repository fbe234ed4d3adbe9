ALTER TABLE `api_keys` ADD `allowed_services` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `allowed_clients` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `active_for_ms` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `activated_at` integer;