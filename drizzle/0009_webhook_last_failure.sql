ALTER TABLE "webhook_deliveries" ADD COLUMN "last_failure" text;--> statement-breakpoint
-- Attempts logged before failure classes kept the network error's own text, which could name
-- internal addresses and ports: it is replaced by its class's fixed message.
UPDATE "webhook_deliveries" SET "last_failure" = 'HTTP_STATUS' WHERE "last_error" LIKE 'HTTP %';--> statement-breakpoint
UPDATE "webhook_deliveries" SET "last_failure" = 'NETWORK', "last_error" = 'the connection failed' WHERE "last_error" IS NOT NULL AND "last_error" NOT LIKE 'HTTP %';
