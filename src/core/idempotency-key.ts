import type { RecordedEvent } from './catalog.ts';

/**
 * Why a consumption cannot be answered as a replay of the event its idempotency key already
 * recorded: the key holds another metric or quantity. A retry sends what its first call sent;
 * answering anything else as a replay would tell the caller that usage nothing recorded was
 * allowed. (Stripe refuses an idempotency key reused with other parameters the same way.)
 * Null: no conflict (nothing recorded under the id, a replay, or an id the server made, which
 * only this request's own earlier attempt can hold).
 */
export function keyReuseConflict(
  idempotencyKey: string | null,
  consumption: { metricKey: string; quantity: bigint },
  recorded: RecordedEvent | undefined,
): string | null {
  if (idempotencyKey === null || recorded === undefined) return null;
  const { metricKey, quantity } = consumption;
  if (recorded.metricKey === metricKey && recorded.quantity === quantity) return null;
  return `idempotencyKey "${idempotencyKey}" already recorded ${recorded.quantity} ${recorded.metricKey}; a retry must send the same metric and quantity (this call: ${quantity} ${metricKey}). Use a new key for a new consumption.`;
}
