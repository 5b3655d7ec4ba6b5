/**
 * An async iterator that holds only the latest value: a consumer slower than the producer skips
 * to the newest state instead of queueing stale ones (latest state wins).
 */
export class Latest<T> implements AsyncIterableIterator<T> {
  private value: { v: T } | undefined;
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;

  private readonly onEnd: () => void;

  constructor(onEnd: () => void) {
    this.onEnd = onEnd;
  }

  push(v: T): void {
    if (this.ended) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: v, done: false });
    } else {
      this.value = { v };
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.value) {
      const { v } = this.value;
      this.value = undefined;
      return Promise.resolve({ value: v, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Ends the stream (the consumer left, or the server is shutting down). */
  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.value = undefined;
      this.onEnd();
      this.waiting?.({ value: undefined, done: true });
      this.waiting = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
