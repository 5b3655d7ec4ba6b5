ALTER TABLE "orgs" ADD COLUMN "catalog_version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "catalog_version" bigint DEFAULT 0 NOT NULL;