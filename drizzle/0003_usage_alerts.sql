CREATE TABLE "usage_alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"metric_key" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"threshold" smallint NOT NULL,
	"limit_units" bigint,
	"used" bigint,
	"budget_cap" numeric,
	"cost" numeric,
	"currency" text,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_alerts_once_uq" UNIQUE("org_id","kind","metric_key","period_start","threshold"),
	CONSTRAINT "usage_alerts_threshold" CHECK ("usage_alerts"."threshold" in (80, 90, 100))
);
--> statement-breakpoint
ALTER TABLE "usage_alerts" ADD CONSTRAINT "usage_alerts_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "usage_alerts_org_fired_idx" ON "usage_alerts" USING btree ("org_id","fired_at");