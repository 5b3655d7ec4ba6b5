-- What a quota decision is made under: an org's row and overrides, its plan's row and entitlements.
-- Every change to them moves the org's or the plan's catalog_version, so a copy of them (the quota
-- path keeps one per process) is checked in the very statement that counts usage under it: the
-- statement counts nothing for an org whose versions moved (see count-unrefusable.ts).
CREATE FUNCTION meterline_next_catalog_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.catalog_version := OLD.catalog_version + 1;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER orgs_catalog_version BEFORE UPDATE ON orgs
  FOR EACH ROW EXECUTE FUNCTION meterline_next_catalog_version();
--> statement-breakpoint
CREATE TRIGGER plans_catalog_version BEFORE UPDATE ON plans
  FOR EACH ROW EXECUTE FUNCTION meterline_next_catalog_version();
--> statement-breakpoint
-- A child row (an override, a plan entitlement) changed: move its parent's version.
-- TG_ARGV[0]: the parent table; TG_ARGV[1]: the child's column holding the parent's id.
CREATE FUNCTION meterline_child_of_catalog_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bump constant text := format('UPDATE %I SET catalog_version = catalog_version + 1 WHERE id = $1', TG_ARGV[0]);
BEGIN
  IF TG_OP <> 'INSERT' THEN
    EXECUTE bump USING (to_jsonb(OLD) ->> TG_ARGV[1])::uuid;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    EXECUTE bump USING (to_jsonb(NEW) ->> TG_ARGV[1])::uuid;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER org_entitlement_overrides_catalog_version AFTER INSERT OR UPDATE OR DELETE ON org_entitlement_overrides
  FOR EACH ROW EXECUTE FUNCTION meterline_child_of_catalog_changed('orgs', 'org_id');
--> statement-breakpoint
CREATE TRIGGER plan_entitlements_catalog_version AFTER INSERT OR UPDATE OR DELETE ON plan_entitlements
  FOR EACH ROW EXECUTE FUNCTION meterline_child_of_catalog_changed('plans', 'plan_id');
