import type { DomainEvent, EventPublisher } from './domain-events.ts';

/** What a use case may ask for while its transaction runs: effects that wait for the commit. */
export type AfterCommit = {
  /** Published once the transaction committed; dropped if it rolls back. */
  publish(event: DomainEvent): void;
};

/**
 * Runs `work` (a use case's `db.transaction(...)`) and publishes the events it asked for only
 * once that resolved, i.e. committed: a transaction that throws (rolls back) publishes nothing.
 * A use case that fails with a Result after writing nothing simply asks for nothing.
 * Only for a top-level transaction: inside an outer one, resolving is not committing.
 */
export async function afterCommit<T>(
  events: EventPublisher,
  work: (effects: AfterCommit) => Promise<T>,
): Promise<T> {
  const pending: DomainEvent[] = [];
  const value = await work({ publish: (event) => void pending.push(event) });
  for (const event of pending) await events.publish(event);
  return value;
}

/** The orgs' usage (or what prices or limits it) changed; nothing to tell when there are none. */
export function usageChanged(orgIds: readonly string[]): DomainEvent {
  return { type: 'usageChanged', orgIds: [...new Set(orgIds)] };
}

export function orgAccessChanged(orgId: string): DomainEvent {
  return { type: 'orgAccessChanged', orgId };
}
