import type { Db } from '../db/client.ts';
import { metrics, planEntitlements, plans } from './tables.ts';

type MetricSeed = typeof metrics.$inferInsert;
type EntitlementSeed = {
  metricKey: string;
  included: bigint | null;
  hardLimit?: bigint;
  /** PER_UNIT overage price, exact decimal string; absent: overage is not priced ($0). */
  unitPrice?: string;
};
type PlanSeed = {
  code: string;
  name: string;
  basePrice: string;
  rateLimitPerMinute: number;
  entitlements: EntitlementSeed[];
};

/** The four metrics every Meterline database knows. */
export const defaultMetrics: MetricSeed[] = [
  { key: 'api_calls', name: 'API calls', unit: 'call', aggregation: 'SUM' },
  { key: 'tokens', name: 'Tokens', unit: 'token', aggregation: 'SUM' },
  { key: 'playbook_runs', name: 'Playbook runs', unit: 'run', aggregation: 'SUM' },
  { key: 'seats', name: 'Seats', unit: 'seat', aggregation: 'MAX' },
];

/** The default catalog, loaded into an empty database: amounts are exact decimal strings in USD. */
export const defaultPlans: PlanSeed[] = [
  {
    code: 'free',
    name: 'Free',
    basePrice: '0',
    rateLimitPerMinute: 60,
    entitlements: [
      { metricKey: 'api_calls', included: 1_000n, hardLimit: 1_000n },
      { metricKey: 'tokens', included: 50_000n, hardLimit: 50_000n },
      { metricKey: 'playbook_runs', included: 5n, hardLimit: 5n },
      { metricKey: 'seats', included: 1n, hardLimit: 1n },
    ],
  },
  {
    code: 'pro',
    name: 'Pro',
    basePrice: '49.00',
    rateLimitPerMinute: 1_000,
    entitlements: [
      { metricKey: 'api_calls', included: 100_000n, unitPrice: '0.001' },
      { metricKey: 'tokens', included: 500_000n, unitPrice: '0.0001' },
      { metricKey: 'playbook_runs', included: 50n, unitPrice: '1.00' },
      { metricKey: 'seats', included: 5n },
    ],
  },
  {
    code: 'enterprise',
    name: 'Enterprise',
    basePrice: '500.00',
    rateLimitPerMinute: 10_000,
    entitlements: [
      { metricKey: 'api_calls', included: null },
      { metricKey: 'tokens', included: null },
      { metricKey: 'playbook_runs', included: null },
      { metricKey: 'seats', included: null },
    ],
  },
];

/**
 * Makes sure the default metrics and plans exist. Idempotent and safe to run from several
 * instances at once: existing rows are left as they are (an admin may have edited them).
 */
export async function ensureCatalog(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(metrics).values(defaultMetrics).onConflictDoNothing();
    for (const plan of defaultPlans) {
      const [row] = await tx
        .insert(plans)
        .values({
          code: plan.code,
          name: plan.name,
          basePrice: plan.basePrice,
          currency: 'USD',
          rateLimitPerMinute: plan.rateLimitPerMinute,
        })
        .onConflictDoNothing({ target: plans.code })
        .returning({ id: plans.id });
      if (!row) continue;
      await tx
        .insert(planEntitlements)
        .values(
          plan.entitlements.map((e) => ({
            planId: row.id,
            metricKey: e.metricKey,
            included: e.included,
            hardLimit: e.hardLimit ?? null,
            overageModel: e.unitPrice ? ('PER_UNIT' as const) : null,
            unitPrice: e.unitPrice ?? null,
          })),
        )
        .onConflictDoNothing();
    }
  });
}
