import type { UsageAlertRow } from '../alerts/repository.ts';

/**
 * What a committed change tells the rest of the process. Use cases publish them after their
 * transaction committed (see after-commit.ts); live views, alert checks and webhook delivery
 * subscribe at start-up, so the modules that change data never know who listens.
 */
export type DomainEvent =
  /** The orgs' usage, or what prices or limits it (plan, overrides, overage lines), changed. */
  | { type: 'usageChanged'; orgIds: readonly string[] }
  /** Who may act for the org changed: a membership added, changed or removed, a key revoked or rotated. */
  | { type: 'orgAccessChanged'; orgId: string }
  /** Usage alerts were fired (stored once, by this instance). */
  | { type: 'alertsFired'; orgId: string; alerts: readonly UsageAlertRow[] };

export type DomainEventType = DomainEvent['type'];
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;
export type EventHandler<T extends DomainEventType> = (event: EventOf<T>) => void | Promise<void>;

/** The side use cases see: they publish, never subscribe. */
export type EventPublisher = {
  /** Runs every subscriber of the event; resolves once the asynchronous ones settled (never rejects). */
  publish(event: DomainEvent): Promise<void>;
};

type FailureLog = { error(details: object, message: string): void };

/**
 * In-process publish/subscribe of one running instance. Subscribers run synchronously, in the
 * order they subscribed, inside `publish` (so what they note at once, e.g. an access change, is
 * noted before the use case answers); what they start asynchronously is awaited by `publish`.
 * One subscriber's failure is logged and never reaches the publisher or the other subscribers.
 * Other instances hear of changes through the live bus, which the live subscriber feeds.
 */
export class DomainEvents implements EventPublisher {
  private readonly handlers = new Map<DomainEventType, Set<(event: DomainEvent) => void | Promise<void>>>();
  private readonly log: FailureLog;

  constructor(log: FailureLog) {
    this.log = log;
  }

  /** Returns the unsubscribe function. */
  subscribe<T extends DomainEventType>(type: T, handler: EventHandler<T>): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
    }
    const entry = handler as (event: DomainEvent) => void | Promise<void>;
    set.add(entry);
    return () => set.delete(entry);
  }

  async publish(event: DomainEvent): Promise<void> {
    const running: Promise<void>[] = [];
    for (const handler of [...(this.handlers.get(event.type) ?? [])]) {
      try {
        const done = handler(event);
        if (done) running.push(done.catch((error: unknown) => this.failed(event, error)));
      } catch (error) {
        this.failed(event, error);
      }
    }
    await Promise.all(running);
  }

  private failed(event: DomainEvent, error: unknown): void {
    this.log.error({ err: error, event: event.type }, 'domain event: a subscriber failed');
  }
}
