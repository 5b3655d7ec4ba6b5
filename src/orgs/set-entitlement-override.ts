import { writeAudit } from '../audit/audit.ts';
import { isBillingRuleError, planEntitlementOf, validateOverride } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { afterCommit, usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import { entitlementsByPlanIds } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { deleteOverride, lockOrg, overrideOf, upsertOverride } from './admin-repository.ts';
import type { EntitlementOverrideRow } from './repository.ts';

export type SetEntitlementOverrideInput = {
  orgId: string;
  metric: string;
  included?: bigint | null;
  softLimit?: bigint | null;
  hardLimit?: bigint | null;
  unlimited?: boolean | null;
  /** Removes the override: the plan's entitlement applies again. */
  clear?: boolean | null;
};

/**
 * A custom deal for one org and metric (platform admin): effective limit = override ?? plan.
 * Checked against the org's current plan with the billing core's `validateOverride`.
 * Returns the stored override, or null when it was cleared. Limits moved: live usage views
 * (remaining, percentUsed, blocked) are told after the commit.
 */
export async function setEntitlementOverride(
  deps: { db: Db; events: EventPublisher },
  input: SetEntitlementOverrideInput,
  audit: { actor: string; at: Date },
): Promise<Result<EntitlementOverrideRow | null>> {
  return afterCommit(deps.events, (effects) =>
    deps.db.transaction(async (tx) => {
      const org = await lockOrg(tx, input.orgId);
      if (!org) return fail(notFound('Org'));
      const planRow = (await entitlementsByPlanIds(tx, [org.planId])).find(
        (r) => r.metricKey === input.metric,
      );
      if (!planRow) {
        return fail(
          badInput(
            `The org's plan does not grant ${JSON.stringify(input.metric)}; add the metric to the plan first.`,
          ),
        );
      }
      const key = { orgId: org.id, metricKey: input.metric };
      const before = (await overrideOf(tx, key)) ?? null;
      let after: EntitlementOverrideRow | null = null;
      if (input.clear) {
        await deleteOverride(tx, key);
      } else {
        const override = {
          included: input.included ?? null,
          softLimit: input.softLimit ?? null,
          hardLimit: input.hardLimit ?? null,
          unlimited: input.unlimited ?? false,
        };
        try {
          validateOverride(planEntitlementOf(planRow), override);
        } catch (error) {
          if (isBillingRuleError(error)) return fail(badInput(error.message, { rule: error.code }));
          throw error;
        }
        after = await upsertOverride(tx, { ...key, ...override, updatedAt: audit.at });
      }
      await writeAudit(tx, {
        actor: audit.actor,
        action: 'setEntitlementOverride',
        target: `org:${org.id}/metric:${input.metric}`,
        before,
        after,
        at: audit.at,
      });
      effects.publish(usageChanged([org.id]));
      return ok(after);
    }),
  );
}
