import { writeAudit } from '../audit/audit.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { afterCommit, usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import { planByCode } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { type OrgRow, orgsByIds, setOrgPlan } from './repository.ts';

/**
 * Moves an org to another plan. The new plan's entitlements and prices apply to the whole
 * current period from now on (usage already counted is priced at the new plan when overages are
 * next calculated); nothing is prorated. Live meters change with the plan: told after the commit.
 */
export async function changePlan(
  deps: { db: Db; events: EventPublisher },
  params: { orgId: string; planCode: string },
  audit: { actor: string; at: Date },
): Promise<Result<OrgRow>> {
  const plan = await planByCode(deps.db, params.planCode);
  if (!plan) return fail(notFound(`Plan ${JSON.stringify(params.planCode)}`));
  if (!plan.active) return fail(badInput(`Plan ${plan.code} is no longer offered.`));
  const org = await afterCommit(deps.events, (effects) =>
    deps.db.transaction(async (tx) => {
      const [before] = await orgsByIds(tx, [params.orgId]);
      const after = await setOrgPlan(tx, { orgId: params.orgId, planId: plan.id });
      if (before && after) {
        await writeAudit(tx, {
          ...audit,
          action: 'changePlan',
          target: `org:${after.id}`,
          before: { planId: before.planId },
          after: { planId: after.planId, planCode: plan.code },
        });
        effects.publish(usageChanged([after.id]));
      }
      return after;
    }),
  );
  if (!org) return fail(notFound('Org'));
  return ok(org);
}
