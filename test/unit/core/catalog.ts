/** The default catalog (src/plans/catalog.ts), as entitlements the billing core understands. */
import { type Entitlement, parseAmount } from '../../../src/core/index.ts';

const perUnit = (unitPrice: string) => ({ model: 'PER_UNIT' as const, unitPrice: parseAmount(unitPrice) });
const limited = (included: bigint, hard: bigint | null, price: Entitlement['overagePrice']): Entitlement => ({
  included,
  softLimit: null,
  hardLimit: hard,
  overagePrice: price,
});
const unlimited: Entitlement = { included: null, softLimit: null, hardLimit: null, overagePrice: null };

export const catalog = {
  free: {
    api_calls: limited(1_000n, 1_000n, null),
    tokens: limited(50_000n, 50_000n, null),
    playbook_runs: limited(5n, 5n, null),
    seats: limited(1n, 1n, null),
  },
  pro: {
    api_calls: limited(100_000n, null, perUnit('0.001')),
    tokens: limited(500_000n, null, perUnit('0.0001')),
    playbook_runs: limited(50n, null, perUnit('1.00')),
    seats: limited(5n, null, null),
  },
  enterprise: { api_calls: unlimited, tokens: unlimited, playbook_runs: unlimited, seats: unlimited },
} satisfies Record<string, Record<string, Entitlement>>;
