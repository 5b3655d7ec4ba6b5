import type { Sql } from 'postgres';
import { isConnectionLoss, TransactionConnection } from './connection-loss.ts';

/**
 * The postgres.js client as drizzle should use it: every statement prepared. Drizzle asks
 * postgres.js not to prepare its statements, and postgres.js then sends each statement that has
 * parameters in two round trips (describe the parameters, wait, then execute), which also stops
 * it pipelining the statements that follow. Prepared, a statement is described once per
 * connection and then sent in one round trip, pipelined with its neighbours. postgres.js keeps a
 * connection's prepared statements until the connection is recycled (`max_lifetime`), so the
 * number of distinct statement texts bounds their memory.
 * Transactions and savepoints hand out their own clients: those are wrapped too, and follow
 * their connection so that nothing is sent on it once it is lost (see TransactionConnection).
 */
export function preparingStatements(sql: Sql, connection?: TransactionConnection): Sql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      switch (property) {
        case 'unsafe':
          return (query: string, args?: unknown[], options?: object) => {
            if (connection?.lost) return connection.refused();
            // One array for every attempt: an error carrying another array was another statement's.
            const params = (args ?? []) as never[];
            const send = () => target.unsafe(query, params, { ...options, prepare: true });
            return connection ? send() : new SentAgainAfterLoss(send, params, READ.test(query));
          };
        case 'begin':
        case 'savepoint':
          return (...args: unknown[]) => {
            const body = args.pop() as (client: Sql) => unknown;
            const method = Reflect.get(target, property, receiver) as (...a: unknown[]) => Promise<unknown>;
            let started = false;
            const attempt = () => {
              // A savepoint runs on its transaction's connection.
              const own = connection ?? new TransactionConnection();
              const outcome = method.call(target, ...args, (client: Sql) => {
                started = true;
                return own.settle(() => body(preparingStatements(client, own)));
              });
              if (!connection) own.follow(outcome);
              return outcome;
            };
            // A transaction whose connection was lost before its body started sent nothing of
            // ours (its BEGIN, at most): it starts once more. That is how it meets the error
            // postgres.js kept from the slot's killed statement (see SentAgainAfterLoss).
            return connection
              ? attempt()
              : attempt().catch((error: unknown) =>
                  !started && isConnectionLoss(error) ? attempt() : Promise.reject(error),
                );
          };
        default:
          return Reflect.get(target, property, receiver);
      }
    },
  });
}

/** A statement that only reads: `select ...` (drizzle's queries and ours start with the verb). */
const READ = /^\s*select\b/i;

/**
 * A statement outside a transaction, sent once more when it fails on a lost connection and
 * sending it again cannot count anything twice: it only reads, or it was never sent. postgres.js
 * 3.4.9 keeps the error of a backend killed under a running statement (57P01, `pg_terminate_backend`,
 * a failover) and hands it to the next statement given to that pool slot, which fails unsent, the
 * database answering all along (upstream issue 1223): after a failover each connection of the
 * pool failed one more request. Such an error still names the statement it was raised for
 * (postgres.js attaches the first statement's `args` to it), so a write that gets it was never
 * sent (`raisedForAnother`). Any other failed write goes back to its caller, whose retry is safe
 * (event ids, idempotency keys). Unlike a postgres.js query it runs when awaited, each time:
 * drizzle awaits it once.
 */
class SentAgainAfterLoss implements PromiseLike<unknown> {
  #values = false;
  private readonly send: () => ReturnType<Sql['unsafe']>;
  private readonly params: readonly unknown[];
  private readonly readOnly: boolean;

  constructor(send: () => ReturnType<Sql['unsafe']>, params: readonly unknown[], readOnly: boolean) {
    this.send = send;
    this.params = params;
    this.readOnly = readOnly;
  }

  /** drizzle asks for rows as arrays this way (postgres.js `.values()`). */
  values(): this {
    this.#values = true;
    return this;
  }

  // biome-ignore lint/suspicious/noThenProperty: it stands in for a postgres.js query, a thenable.
  then<A = unknown, B = never>(
    onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const run = (): Promise<unknown> => {
      const query = this.send();
      return Promise.resolve(this.#values ? query.values() : query);
    };
    return run()
      .catch((error: unknown) =>
        isConnectionLoss(error) && (this.readOnly || this.raisedForAnother(error))
          ? run()
          : Promise.reject(error),
      )
      .then(onFulfilled, onRejected);
  }

  /**
   * Whether a write's error was raised for another statement: a server's FATAL (the backend
   * terminated, 57P01-57P03) that carries another statement's `args`. Only the kept error of the
   * slot's killed statement arrives that way; the errors of a closed connection (CONNECTION_CLOSED,
   * ECONNRESET) are shared by every statement in flight on it, pipelined ones included, which may
   * have run: those are never sent again.
   */
  private raisedForAnother(error: unknown): boolean {
    if (typeof error !== 'object' || error === null) return false;
    const { code, severity, args } = error as { code?: unknown; severity?: unknown; args?: unknown };
    const terminated = severity === 'FATAL' || (typeof code === 'string' && /^57P0[123]$/.test(code));
    return terminated && 'args' in error && args !== this.params;
  }
}
