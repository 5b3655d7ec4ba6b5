import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { planByCode } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { type OrgRow, setOrgPlan } from './repository.ts';

/**
 * Moves an org to another plan. The new plan's entitlements and prices apply to the whole
 * current period from now on (usage already counted is priced at the new plan when overages are
 * next calculated); nothing is prorated.
 */
export async function changePlan(
  db: Db,
  params: { orgId: string; planCode: string },
): Promise<Result<OrgRow>> {
  const plan = await planByCode(db, params.planCode);
  if (!plan) return fail(notFound(`Plan ${JSON.stringify(params.planCode)}`));
  if (!plan.active) return fail(badInput(`Plan ${plan.code} is no longer offered.`));
  const org = await setOrgPlan(db, { orgId: params.orgId, planId: plan.id });
  if (!org) return fail(notFound('Org'));
  return ok(org);
}
