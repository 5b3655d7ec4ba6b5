import type PgBoss from 'pg-boss';
import { isTransactionConflict } from '../db/connection-loss.ts';

export const BILLING_RUN_QUEUE = 'billing-run';

/**
 * Creates the billing run's queue (a no-op when it exists). Instances starting together on a
 * fresh database race to create it, and pg-boss's create_queue (an insert, then DDL on a
 * partition referencing the queue table) can deadlock with the other instance's insert:
 * PostgreSQL aborts one of them, whole. That one tries again and finds the queue made.
 */
export async function createBillingRunQueue(boss: PgBoss): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await boss.createQueue(BILLING_RUN_QUEUE, {
        name: BILLING_RUN_QUEUE,
        policy: 'singleton',
        retryLimit: 5,
        retryDelay: 60,
        retryBackoff: true,
        expireInSeconds: 3600,
      });
      return;
    } catch (error) {
      if (!isTransactionConflict(error) || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}
