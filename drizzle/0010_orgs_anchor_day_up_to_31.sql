-- Anchor days 29-31 are allowed: a month without that day starts its billing period on its last day.
ALTER TABLE "orgs" DROP CONSTRAINT "orgs_anchor_day_range";--> statement-breakpoint
ALTER TABLE "orgs" ADD CONSTRAINT "orgs_anchor_day_range" CHECK ("orgs"."billing_anchor_day" between 1 and 31);