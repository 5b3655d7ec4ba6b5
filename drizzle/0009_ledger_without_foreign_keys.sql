ALTER TABLE "usage_events" DROP CONSTRAINT "usage_events_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "usage_events" DROP CONSTRAINT "usage_events_metric_key_metrics_key_fk";
--> statement-breakpoint
-- The ledger keeps no foreign keys: checking them costs every inserted event a locking read of its
-- org's row (FOR KEY SHARE, a multixact when batches of one org overlap), which was a third of the
-- write of a quota consumption. Every writer checks the org and the metric itself (recordUsage;
-- consumptions in the statement that writes them, see count-unrefusable.ts), orgs and metrics are
-- never deleted by Meterline, and deleting an org by hand still deletes its events, here (not
-- TRUNCATE orgs CASCADE, which no longer reaches usage_events: truncate it by name too). An event
-- written while its org is deleted fails on the counters, which keep their foreign keys.
CREATE FUNCTION meterline_delete_org_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM usage_events WHERE org_id = OLD.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER orgs_delete_usage_events AFTER DELETE ON orgs
  FOR EACH ROW EXECUTE FUNCTION meterline_delete_org_events();
