import { writeAudit } from '../audit/audit.ts';
import { type Amount, formatAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { lockOrg, setOrgBudget } from './admin-repository.ts';
import type { OrgRow } from './repository.ts';

export type SetBudgetCapInput = {
  orgId: string;
  /** Maximum overage cost per period in the plan's currency; null removes the cap. */
  maxOverage: Amount | null;
  action?: 'BLOCK' | 'ALERT' | null;
};

/**
 * Caps an org's overage cost per period (platform admin). BLOCK: a consumption that would take
 * the period's overage total past the cap is denied (BUDGET_CAP). ALERT: it is allowed and a
 * budget alert is raised once per period.
 */
export async function setBudgetCap(
  db: Db,
  input: SetBudgetCapInput,
  audit: { actor: string; at: Date },
): Promise<Result<OrgRow>> {
  if (input.maxOverage?.isNegative()) {
    return fail(badInput('maxOverage must be 0 or more (null removes the cap).'));
  }
  return db.transaction(async (tx) => {
    const before = await lockOrg(tx, input.orgId);
    if (!before) return fail(notFound('Org'));
    const org = await setOrgBudget(tx, {
      orgId: before.id,
      budgetCap: input.maxOverage === null ? null : formatAmount(input.maxOverage),
      budgetAction: input.maxOverage === null ? null : (input.action ?? 'BLOCK'),
    });
    await writeAudit(tx, {
      actor: audit.actor,
      action: 'setBudgetCap',
      target: `org:${org.id}`,
      before: { budgetCap: before.budgetCap, budgetAction: before.budgetAction },
      after: { budgetCap: org.budgetCap, budgetAction: org.budgetAction },
      at: audit.at,
    });
    return ok(org);
  });
}
