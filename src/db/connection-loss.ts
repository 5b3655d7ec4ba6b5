/** postgres.js's own codes for a connection that is gone, and the socket's. */
const LOST_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
]);

/**
 * Whether an error (or one it wraps, as drizzle does) says the database connection itself is
 * gone: closed or reset under the statement, or its backend terminated (`pg_terminate_backend`,
 * a failover, a restart: SQLSTATE class 08, 57P01-57P03, any FATAL). Such a call may be retried
 * as is; a statement error (a constraint, a cancelled statement) is not one of these.
 */
export function isConnectionLoss(error: unknown): boolean {
  for (const { code, severity } of errorChain(error)) {
    if (typeof code === 'string') {
      if (LOST_CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
    }
    if (severity === 'FATAL' || severity === 'PANIC') return true;
  }
  return false;
}

/**
 * Whether PostgreSQL aborted the transaction to break a conflict with another: a deadlock
 * (40P01) or a serialization failure (40001). Nothing of it was written, so running it again,
 * whole, is safe (and usually succeeds: the other transaction has gone ahead).
 */
export function isTransactionConflict(error: unknown): boolean {
  for (const { code } of errorChain(error)) if (code === '40P01' || code === '40001') return true;
  return false;
}

/** What we read of a database error: postgres.js names the constraint `constraint_name`, PGlite `constraint`. */
type DatabaseErrorFields = {
  code?: unknown;
  severity?: unknown;
  constraint_name?: unknown;
  constraint?: unknown;
};

/** A database error and the errors it wraps (drizzle wraps the driver's in `cause`), a few deep. */
export function* errorChain(error: unknown): Generator<DatabaseErrorFields> {
  let current = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    yield current as DatabaseErrorFields;
    current = (current as { cause?: unknown }).cause;
  }
}

/** How long a body that failed on a lost connection waits for postgres.js to report the close. */
const CLOSE_REPORT_WAIT_MS = 1_000;

/**
 * One postgres.js transaction's connection, as seen from its body. postgres.js 3.4.9 (the
 * latest) rejects `sql.begin` as soon as the transaction's connection closes (its `onclose`
 * race in `begin`), but the body keeps running, and when the body settles `begin` sends
 * `rollback` (or `commit`, or `release savepoint`) on that same, now closed, connection. That
 * write is deferred to `setImmediate` and dereferences the connection's `socket`, which the close
 * set to null: a TypeError thrown from a timer, outside any request, that ends the process
 * (connection.js `nextWrite`, upstream issues 1154 and 1208). So once the connection is lost the
 * body is never settled (postgres.js then sends nothing more; the caller already has its error
 * from `begin`) and the body's further statements are refused instead of sent.
 */
export class TransactionConnection {
  lost = false;
  private lossError: unknown;
  private reportLoss: () => void = () => {};
  private readonly reported = new Promise<void>((resolve) => {
    this.reportLoss = resolve;
  });

  /**
   * Follows `begin`'s outcome. While the body runs, `begin` rejects only because the connection
   * closed (its body's own failure comes after the body settles).
   */
  follow(outcome: Promise<unknown>): void {
    outcome.catch((error: unknown) => this.markLost(error));
  }

  /** Runs the body; if the connection is lost meanwhile, the returned promise never settles. */
  async settle<T>(body: () => T | Promise<T>): Promise<T> {
    let value: T;
    try {
      value = await body();
    } catch (error) {
      if (this.lost || (isConnectionLoss(error) && (await this.reportedWithin(CLOSE_REPORT_WAIT_MS)))) {
        return never();
      }
      throw error;
    }
    return this.lost ? never() : value;
  }

  /** A statement the body asks for once the connection is lost: failed here, never sent. */
  refused(): RefusedQuery {
    return new RefusedQuery(this.lossError);
  }

  private markLost(error: unknown): void {
    if (this.lost) return;
    this.lost = true;
    this.lossError = error;
    this.reportLoss();
  }

  private async reportedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    });
    try {
      return await Promise.race([this.reported.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A promise nothing settles: postgres.js waits on it, then both are garbage. */
const never = <T>() => new Promise<T>(() => {});

/**
 * Stands in for a postgres.js query (drizzle awaits it, or calls `.values()` first) and fails
 * only when awaited, so an unused one leaves no unhandled rejection behind.
 */
export class RefusedQuery implements PromiseLike<never> {
  private readonly cause: unknown;

  constructor(cause: unknown) {
    this.cause = cause;
  }
  values(): this {
    return this;
  }
  // biome-ignore lint/suspicious/noThenProperty: it stands in for a postgres.js query, a thenable.
  then<A = never, B = never>(
    onFulfilled?: ((value: never) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const error = new Error('The transaction’s database connection was lost; the statement was not sent.', {
      cause: this.cause,
    });
    return Promise.reject(Object.assign(error, { code: 'CONNECTION_CLOSED' })).then(onFulfilled, onRejected);
  }
}
