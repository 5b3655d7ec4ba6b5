CREATE TYPE "public"."budget_action" AS ENUM('BLOCK', 'ALERT');--> statement-breakpoint
CREATE TYPE "public"."org_role" AS ENUM('VIEWER', 'MEMBER', 'ADMIN', 'OWNER');--> statement-breakpoint
CREATE TYPE "public"."metric_aggregation" AS ENUM('SUM', 'COUNT', 'MAX', 'LATEST');--> statement-breakpoint
CREATE TYPE "public"."pricing_model" AS ENUM('PER_UNIT', 'GRADUATED', 'PACKAGE');--> statement-breakpoint
CREATE TABLE "overages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"metric_key" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"used" bigint NOT NULL,
	"threshold" bigint NOT NULL,
	"units" bigint NOT NULL,
	"unit_price" numeric,
	"amount" numeric NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"calculated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "overages_org_metric_period_uq" UNIQUE("org_id","metric_key","period_start"),
	CONSTRAINT "overages_units_non_negative" CHECK ("overages"."units" >= 0)
);
--> statement-breakpoint
CREATE TABLE "memberships" (
	"org_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"role" "org_role" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memberships_org_id_user_id_pk" PRIMARY KEY("org_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "org_entitlement_overrides" (
	"org_id" uuid NOT NULL,
	"metric_key" text NOT NULL,
	"included" bigint,
	"soft_limit" bigint,
	"hard_limit" bigint,
	"unlimited" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "org_entitlement_overrides_org_id_metric_key_pk" PRIMARY KEY("org_id","metric_key")
);
--> statement-breakpoint
CREATE TABLE "orgs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"plan_id" uuid NOT NULL,
	"billing_anchor_day" smallint DEFAULT 1 NOT NULL,
	"billing_timezone" text DEFAULT 'UTC' NOT NULL,
	"stripe_customer_id" text,
	"budget_cap" numeric,
	"budget_action" "budget_action",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orgs_slug_unique" UNIQUE("slug"),
	CONSTRAINT "orgs_anchor_day_range" CHECK ("orgs"."billing_anchor_day" between 1 and 28)
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"unit" text NOT NULL,
	"aggregation" "metric_aggregation" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "plan_entitlements" (
	"plan_id" uuid NOT NULL,
	"metric_key" text NOT NULL,
	"included" bigint,
	"soft_limit" bigint,
	"hard_limit" bigint,
	"overage_model" "pricing_model",
	"unit_price" numeric,
	"package_size" bigint,
	"package_price" numeric,
	"tiers" jsonb,
	CONSTRAINT "plan_entitlements_plan_id_metric_key_pk" PRIMARY KEY("plan_id","metric_key")
);
--> statement-breakpoint
CREATE TABLE "plans" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"base_price" numeric NOT NULL,
	"currency" text DEFAULT 'USD' NOT NULL,
	"rate_limit_per_minute" integer,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_code_unique" UNIQUE("code"),
	CONSTRAINT "plans_base_price_non_negative" CHECK ("plans"."base_price" >= 0)
);
--> statement-breakpoint
CREATE TABLE "usage_counters" (
	"org_id" uuid NOT NULL,
	"metric_key" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"value" bigint NOT NULL,
	"latest_at" timestamp with time zone,
	"latest_event_id" text,
	"event_count" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_counters_org_id_metric_key_period_start_pk" PRIMARY KEY("org_id","metric_key","period_start")
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"org_id" uuid NOT NULL,
	"metric_key" text NOT NULL,
	"day" date NOT NULL,
	"endpoint" text DEFAULT '' NOT NULL,
	"quantity" bigint NOT NULL,
	"event_count" bigint NOT NULL,
	CONSTRAINT "usage_daily_org_id_metric_key_day_endpoint_pk" PRIMARY KEY("org_id","metric_key","day","endpoint")
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"org_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"metric_key" text NOT NULL,
	"quantity" bigint NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"properties" jsonb,
	CONSTRAINT "usage_events_org_id_event_id_pk" PRIMARY KEY("org_id","event_id"),
	CONSTRAINT "usage_events_quantity_positive" CHECK ("usage_events"."quantity" > 0)
);
--> statement-breakpoint
ALTER TABLE "overages" ADD CONSTRAINT "overages_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "overages" ADD CONSTRAINT "overages_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_entitlement_overrides" ADD CONSTRAINT "org_entitlement_overrides_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_entitlement_overrides" ADD CONSTRAINT "org_entitlement_overrides_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orgs" ADD CONSTRAINT "orgs_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "plan_entitlements" ADD CONSTRAINT "plan_entitlements_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "plan_entitlements" ADD CONSTRAINT "plan_entitlements_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_counters" ADD CONSTRAINT "usage_counters_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_counters" ADD CONSTRAINT "usage_counters_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_metric_key_metrics_key_fk" FOREIGN KEY ("metric_key") REFERENCES "public"."metrics"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "memberships_user_id_idx" ON "memberships" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "orgs_plan_id_idx" ON "orgs" USING btree ("plan_id");--> statement-breakpoint
CREATE INDEX "orgs_created_at_id_idx" ON "orgs" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "usage_counters_period_idx" ON "usage_counters" USING btree ("period_start","metric_key");--> statement-breakpoint
CREATE INDEX "usage_events_org_metric_period_idx" ON "usage_events" USING btree ("org_id","metric_key","period_start");