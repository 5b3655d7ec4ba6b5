import { type Context, createAccess } from '../context.ts';
import { AppError, notFound, unauthenticated } from '../errors.ts';
import { createLoaders } from '../usage/loaders.ts';

const LAPSED = Symbol('credential lapsed');

/** What a guarded stream yields once its credential lapsed: the error its resolver throws. */
export type Lapse = { [LAPSED]: AppError };

/** setTimeout's longest delay (about 24.8 days); a later expiry is waited for in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * For a subscription's `resolve`: the pushed value, or (its credential lapsed) the error the
 * client reads as the subscription's last result, before it completes.
 */
export function unlessLapsed<T>(value: T | Lapse): T {
  if (typeof value === 'object' && value !== null && LAPSED in value) throw value[LAPSED];
  return value as T;
}

/**
 * A live stream of an org that ends when the caller may no longer watch it: at the credential's
 * expiry (a JWT's `exp`, an API key's expiry), and when the org's access changes on any instance
 * (a key revoked or rotated, a membership changed or removed) and the credential, checked again
 * with fresh memberships, no longer grants the org. It ends with an error the client reads
 * (UNAUTHENTICATED, or NOT_FOUND as for an org it cannot see), then completes. A check that fails
 * for another reason (the database is away) ends nothing: the next change checks again.
 */
export function guardLiveStream<T>(
  ctx: Context,
  orgId: string,
  stream: AsyncIterableIterator<T>,
): AsyncIterableIterator<T | Lapse> {
  const credential = ctx.credential;
  if (!credential) return stream;
  let timer: NodeJS.Timeout | undefined;
  const guarded = new Guarded(stream, () => {
    clearTimeout(timer);
    unwatch();
  });
  const check = async (): Promise<void> => {
    try {
      const principal = await credential.recheck();
      const access = createAccess(principal, createLoaders(ctx.db));
      if (!(await access.canReadOrg(orgId))) guarded.end(notFound(`Org ${JSON.stringify(orgId)}`));
    } catch (error) {
      if (error instanceof AppError) guarded.end(error);
      else ctx.log.warn({ err: error, orgId }, 'live: could not check a subscription’s credential again');
    }
  };
  const unwatch = ctx.live.access.watch(orgId, () => void check());
  const expiresAt = credential.expiresAt();
  const waitForExpiry = () => {
    if (!expiresAt) return;
    const left = expiresAt.getTime() - ctx.clock().getTime();
    if (left > MAX_DELAY_MS) {
      timer = setTimeout(waitForExpiry, MAX_DELAY_MS);
      return;
    }
    timer = setTimeout(
      async () => {
        // The check words the refusal as an HTTP request would be answered; whatever it found
        // (a clock a little behind, the database away), the stream ends at the expiry.
        await check();
        guarded.end(unauthenticated(`The credential expired at ${expiresAt.toISOString()}: sign in again.`));
      },
      Math.max(0, left),
    );
  };
  waitForExpiry();
  return guarded;
}

/** The stream, until `end` puts a lapse in front of whatever it was waiting for. */
class Guarded<T> implements AsyncIterableIterator<T | Lapse> {
  private lapse: Lapse | undefined;
  private done = false;
  private wake: (() => void) | undefined;
  private pending: Promise<IteratorResult<T>> | undefined;

  private readonly inner: AsyncIterableIterator<T>;
  private readonly cleanup: () => void;

  constructor(inner: AsyncIterableIterator<T>, cleanup: () => void) {
    this.inner = inner;
    this.cleanup = cleanup;
  }

  end(error: AppError): void {
    if (this.lapse || this.done) return;
    this.lapse = { [LAPSED]: error };
    this.wake?.();
  }

  async next(): Promise<IteratorResult<T | Lapse>> {
    if (this.done) return { value: undefined, done: true };
    if (this.lapse) {
      const lapse = this.lapse;
      await this.return();
      return { value: lapse, done: false };
    }
    this.pending ??= this.inner.next();
    const lapsed = new Promise<'lapsed'>((resolve) => {
      this.wake = () => resolve('lapsed');
    });
    const first = await Promise.race([this.pending, lapsed]);
    this.wake = undefined;
    if (first === 'lapsed') return this.next();
    this.pending = undefined;
    if (first.done) await this.return();
    return first;
  }

  async return(): Promise<IteratorResult<T | Lapse>> {
    if (!this.done) {
      this.done = true;
      this.cleanup();
      await this.inner.return?.();
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T | Lapse> {
    return this;
  }
}
