import { writeAudit } from '../audit/audit.ts';
import { type Amount, formatAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import {
  deletePlanEntitlements,
  lockPlanByCode,
  planEntitlementRows,
  updatePlanRow,
  upsertPlanEntitlements,
} from './admin-repository.ts';
import { basePriceProblem, type EntitlementInput, entitlementRowOf, planNameOf } from './create-plan.ts';
import { listMetrics, type NewPlanEntitlement, type PlanRow } from './repository.ts';

export type UpdatePlanInput = {
  code: string;
  name?: string | null;
  basePrice?: Amount | null;
  active?: boolean | null;
  rateLimitPerMinute?: number | null;
  /** Each listed metric's entitlement is added or replaced; unlisted metrics are kept. */
  entitlements?: EntitlementInput[] | null;
  /** Metrics the plan no longer grants. */
  removeMetrics?: string[] | null;
};

/**
 * Changes a plan (platform admin). The currency is fixed at creation. A change applies to every
 * org on the plan from now on, for the whole open period (see the README: periods are priced
 * with the plan in force when their lines are calculated; closed periods never change).
 */
export async function updatePlan(
  db: Db,
  input: UpdatePlanInput,
  audit: { actor: string; at: Date },
): Promise<Result<PlanRow>> {
  const patch: Parameters<typeof updatePlanRow>[1]['patch'] = {};
  if (input.name != null) {
    const name = planNameOf(input.name);
    if (!name.ok) return name;
    patch.name = name.value;
  }
  if (input.basePrice != null) {
    if (input.basePrice.isNegative()) return fail(badInput('basePrice must be 0 or more.'));
    patch.basePrice = formatAmount(input.basePrice);
  }
  if (input.active != null) patch.active = input.active;
  if (input.rateLimitPerMinute !== undefined) {
    if (input.rateLimitPerMinute !== null && input.rateLimitPerMinute < 1) {
      return fail(badInput('rateLimitPerMinute must be 1 or more (null: no limit).'));
    }
    patch.rateLimitPerMinute = input.rateLimitPerMinute;
  }
  const known = new Set((await listMetrics(db)).map((m) => m.key));
  const rows: NewPlanEntitlement[] = [];
  const seen = new Set<string>();
  for (const [i, e] of (input.entitlements ?? []).entries()) {
    const path = `entitlements[${i}]`;
    if (!known.has(e.metric))
      return fail(badInput(`${path}.metric: unknown metric ${JSON.stringify(e.metric)}.`));
    if (seen.has(e.metric)) return fail(badInput(`${path}.metric: ${e.metric} is listed twice.`));
    seen.add(e.metric);
    const row = entitlementRowOf(e, path);
    if (!row.ok) return row;
    rows.push(row.value);
  }
  const remove = input.removeMetrics ?? [];
  const both = remove.find((m) => seen.has(m));
  if (both) return fail(badInput(`${both} is both updated and removed; choose one.`));

  return db.transaction(async (tx) => {
    const before = await lockPlanByCode(tx, input.code);
    if (!before) return fail(notFound(`Plan ${JSON.stringify(input.code)}`));
    const priceProblem = input.basePrice != null && basePriceProblem(input.basePrice, before.currency);
    if (priceProblem) return fail(priceProblem);
    const entitlementsBefore = await planEntitlementRows(tx, before.id);
    const plan =
      Object.keys(patch).length > 0 ? await updatePlanRow(tx, { planId: before.id, patch }) : before;
    await upsertPlanEntitlements(tx, { planId: plan.id, rows });
    await deletePlanEntitlements(tx, { planId: plan.id, metricKeys: remove });
    await writeAudit(tx, {
      actor: audit.actor,
      action: 'updatePlan',
      target: `plan:${plan.code}`,
      before: { plan: before, entitlements: entitlementsBefore },
      after: { plan, entitlements: await planEntitlementRows(tx, plan.id) },
      at: audit.at,
    });
    return ok(plan);
  });
}
