import { writeAudit } from '../audit/audit.ts';
import {
  type Amount,
  currencyExponent,
  type Entitlement,
  formatAmount,
  isBillingRuleError,
  isStorableText,
  MAX_SAFE_BIGINT,
  type OveragePriceInput,
  type PriceTier,
  parseOveragePrice,
  tiersOf,
  toMinorUnits,
  validateEntitlement,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, conflict } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { insertPlan, listMetrics, type NewPlanEntitlement, type PlanRow } from './repository.ts';
import type { StoredPriceTier } from './tables.ts';

export type EntitlementInput = {
  metric: string;
  included?: bigint | null;
  softLimit?: bigint | null;
  hardLimit?: bigint | null;
  overage?: OveragePriceInput | null;
};

export type CreatePlanInput = {
  code: string;
  name: string;
  basePrice: Amount;
  currency?: string | null;
  entitlements: EntitlementInput[];
  rateLimitPerMinute?: number | null;
};

const PLAN_CODE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Checks a plan's limits and price for one metric; returns the row to store or why not. */
export function entitlementRowOf(e: EntitlementInput, path: string): Result<NewPlanEntitlement> {
  const included = e.included ?? null;
  if (included === null && e.overage) {
    return fail(
      badInput(`${path}: included is empty (unlimited), so an overage price can never apply; remove it.`),
    );
  }
  let entitlement: Entitlement;
  try {
    entitlement = validateEntitlement({
      included,
      softLimit: e.softLimit ?? null,
      hardLimit: e.hardLimit ?? null,
      overagePrice: e.overage ? parseOveragePrice(e.overage) : null,
    });
  } catch (error) {
    if (isBillingRuleError(error)) return fail(badInput(`${path}: ${error.message}.`));
    throw error;
  }
  const price = entitlement.overagePrice;
  return ok({
    metricKey: e.metric,
    included: entitlement.included,
    softLimit: entitlement.softLimit,
    hardLimit: entitlement.hardLimit,
    overageModel: price?.model ?? null,
    unitPrice: price?.model === 'PER_UNIT' ? formatAmount(price.unitPrice) : null,
    packageSize: price?.model === 'PACKAGE' ? price.packageSize : null,
    packagePrice: price?.model === 'PACKAGE' ? formatAmount(price.packagePrice) : null,
    tiers: tiersOf(price)?.map(storedTierOf) ?? null,
  });
}

/** A tier as stored: decimal strings; a tier without a fee is stored without `flatAmount`. */
function storedTierOf(t: PriceTier): StoredPriceTier {
  const tier = { upTo: t.upTo === null ? null : t.upTo.toString(), unitPrice: formatAmount(t.unitPrice) };
  return t.flatAmount ? { ...tier, flatAmount: formatAmount(t.flatAmount) } : tier;
}

/** A plan's name as stored: trimmed, 1 to 200 characters PostgreSQL can hold. */
export function planNameOf(raw: string): Result<string> {
  const name = raw.trim();
  if (name.length === 0 || name.length > 200 || !isStorableText(name)) {
    return fail(
      badInput(
        'name must be 1 to 200 characters of valid Unicode, without NUL (\\u0000) or unpaired surrogates.',
      ),
    );
  }
  return ok(name);
}

/** A base price is answered in minor units too (a SafeInt): it must fit. Null when it does. */
export function basePriceProblem(price: Amount, currency: string) {
  if (price.isNegative()) return badInput('basePrice must be 0 or more.');
  if (toMinorUnits(price, currency) > MAX_SAFE_BIGINT) {
    return badInput(`basePrice ${formatAmount(price)} is too large: at most 2^53-1 minor units.`);
  }
  return null;
}

/** Creates a plan (platform admin). The code is unique; every metric must be known. */
export async function createPlan(
  db: Db,
  input: CreatePlanInput,
  audit: { actor: string; at: Date },
): Promise<Result<PlanRow>> {
  const code = input.code.trim();
  if (!PLAN_CODE.test(code)) {
    return fail(
      badInput('code must be 1-63 lowercase letters, digits, "-" or "_", starting with a letter or digit.'),
    );
  }
  const name = planNameOf(input.name);
  if (!name.ok) return name;
  if (input.basePrice.isNegative()) return fail(badInput('basePrice must be 0 or more.'));
  const currency = (input.currency ?? 'USD').toUpperCase();
  try {
    currencyExponent(currency);
  } catch {
    return fail(
      badInput(`currency must be an ISO 4217 code such as USD, got ${JSON.stringify(input.currency)}.`),
    );
  }
  const priceProblem = basePriceProblem(input.basePrice, currency);
  if (priceProblem) return fail(priceProblem);
  if (input.rateLimitPerMinute != null && input.rateLimitPerMinute < 1) {
    return fail(badInput('rateLimitPerMinute must be 1 or more (leave it out for no limit).'));
  }
  const known = new Set((await listMetrics(db)).map((m) => m.key));
  const seen = new Set<string>();
  const rows: NewPlanEntitlement[] = [];
  for (const [i, e] of input.entitlements.entries()) {
    const path = `entitlements[${i}]`;
    if (!known.has(e.metric)) {
      return fail(
        badInput(
          `${path}.metric: unknown metric ${JSON.stringify(e.metric)}; known: ${[...known].join(', ')}.`,
        ),
      );
    }
    if (seen.has(e.metric)) return fail(badInput(`${path}.metric: ${e.metric} is listed twice.`));
    seen.add(e.metric);
    const row = entitlementRowOf(e, path);
    if (!row.ok) return row;
    rows.push(row.value);
  }
  const plan = await db.transaction(async (tx) => {
    const row = await insertPlan(
      tx,
      {
        code,
        name: name.value,
        basePrice: formatAmount(input.basePrice),
        currency,
        rateLimitPerMinute: input.rateLimitPerMinute ?? null,
      },
      rows,
    );
    if (row) {
      await writeAudit(tx, {
        ...audit,
        action: 'createPlan',
        target: `plan:${row.id}`,
        before: null,
        after: { ...row, entitlements: rows },
      });
    }
    return row;
  });
  if (!plan) return fail(conflict(`A plan with code ${JSON.stringify(code)} already exists.`));
  return ok(plan);
}
