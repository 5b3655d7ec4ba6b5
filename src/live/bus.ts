/**
 * What instances tell each other. Messages carry ids only, never state: a receiver re-reads what
 * it needs from the database, so a message that is lost, late or repeated can at worst cost a
 * read, never show a wrong number.
 */
export type LiveMessage =
  /** The org's usage (or what prices it) changed in a committed transaction. */
  | { t: 'usage'; orgId: string }
  /** A usage alert was fired (stored once); receivers load it by id. */
  | { t: 'alert'; orgId: string; alertId: string }
  /**
   * Who may act for the org changed (a key revoked or rotated, a membership changed or removed):
   * open sockets and running subscriptions of the org check their credential again.
   */
  | { t: 'access'; orgId: string }
  /**
   * The link to the other instances was lost and is back: messages may have been missed, so every
   * live view re-reads its state. Made locally, never sent.
   */
  | { t: 'resync' };

export type LiveListener = (message: LiveMessage) => void;

/** Pub/sub between the instances of Meterline (or within one). */
export interface LiveBus {
  /** 'memory' (one instance), 'postgres' (LISTEN/NOTIFY) or 'redis'. */
  readonly kind: string;
  publish(message: Exclude<LiveMessage, { t: 'resync' }>): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void;
  close(): Promise<void>;
}

/** Fans a message out to this process's listeners; one listener's failure does not stop the others. */
export class Listeners {
  private readonly listeners = new Set<LiveListener>();

  add(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(message: LiveMessage): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        // A listener handles its own errors; one that throws must not starve the rest.
      }
    }
  }
}

export function encodeMessage(message: LiveMessage): string {
  return JSON.stringify(message);
}

/** Parses a message from another instance; anything malformed is ignored (null). */
export function decodeMessage(payload: string): LiveMessage | null {
  try {
    const m = JSON.parse(payload) as Partial<LiveMessage> & Record<string, unknown>;
    if (m.t === 'usage' && typeof m.orgId === 'string') return { t: 'usage', orgId: m.orgId };
    if (m.t === 'access' && typeof m.orgId === 'string') return { t: 'access', orgId: m.orgId };
    if (m.t === 'alert' && typeof m.orgId === 'string' && typeof m.alertId === 'string') {
      return { t: 'alert', orgId: m.orgId, alertId: m.alertId };
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * One instance (the embedded database has one process): delivery is a function call. Buses are
 * shared per database handle, so two apps on one embedded database (tests) still see each other.
 */
const memoryBuses = new WeakMap<object, MemoryBus>();

class MemoryBus implements LiveBus {
  readonly kind = 'memory';
  private readonly listeners = new Listeners();

  publish(message: Exclude<LiveMessage, { t: 'resync' }>): void {
    // Delivered on the next turn, as a remote message would be: publishers never run listeners inline.
    queueMicrotask(() => this.listeners.emit(message));
  }

  subscribe(listener: LiveListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {}
}

export function memoryBus(scope: object): LiveBus {
  let bus = memoryBuses.get(scope);
  if (!bus) {
    bus = new MemoryBus();
    memoryBuses.set(scope, bus);
  }
  return bus;
}
