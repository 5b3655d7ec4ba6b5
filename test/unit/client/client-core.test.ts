import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../../packages/client/src/backoff.ts';
import { MeterlineError, parseRetryAfter } from '../../../packages/client/src/errors.ts';
import { uuidv7, uuidv7Time } from '../../../packages/client/src/ids.ts';
import { toEventInput } from '../../../packages/client/src/usage-event.ts';

describe('uuidv7', () => {
  it('is a version 7, variant 10 UUID carrying its millisecond', () => {
    const id = uuidv7(1_800_000_000_123);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id)).toBe(1_800_000_000_123);
  });

  it('increases strictly within one millisecond and when the clock steps back', () => {
    const ids = [
      ...Array.from({ length: 5_000 }, () => uuidv7(1_900_000_000_000)),
      ...Array.from({ length: 10 }, () => uuidv7(1_899_999_999_000)),
    ];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('retryDelay', () => {
  const options = { initialMs: 200, maxMs: 30_000 };
  it('doubles, keeps half of the wait fixed, and caps', () => {
    expect(retryDelay(0, options, undefined, () => 0)).toBe(100);
    expect(retryDelay(0, options, undefined, () => 1)).toBe(200);
    expect(retryDelay(3, options, undefined, () => 0)).toBe(800);
    expect(retryDelay(20, options, undefined, () => 1)).toBe(30_000);
  });
  it('waits at least what Retry-After says, up to 10 minutes', () => {
    expect(retryDelay(0, options, 5_000, () => 0)).toBe(5_000);
    expect(retryDelay(0, options, 86_400_000, () => 0)).toBe(600_000);
  });
});

describe('errors', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
  it('retries what may pass and nothing else', () => {
    const retryable = (details: ConstructorParameters<typeof MeterlineError>[1]) =>
      new MeterlineError('x', details).retryable;
    expect(retryable({ kind: 'network' })).toBe(true);
    expect(retryable({ kind: 'timeout' })).toBe(true);
    expect(retryable({ kind: 'http', status: 429 })).toBe(true);
    expect(retryable({ kind: 'http', status: 502 })).toBe(true);
    expect(retryable({ kind: 'http', status: 400 })).toBe(false);
    expect(retryable({ kind: 'http', status: 401 })).toBe(false);
    expect(retryable({ kind: 'graphql', status: 200, code: 'INTERNAL_SERVER_ERROR' })).toBe(true);
    expect(retryable({ kind: 'graphql', status: 429, code: 'RATE_LIMITED' })).toBe(true);
    expect(retryable({ kind: 'graphql', status: 200, code: 'BAD_USER_INPUT' })).toBe(false);
    expect(retryable({ kind: 'graphql', status: 401, code: 'UNAUTHENTICATED' })).toBe(false);
    expect(retryable({ kind: 'aborted' })).toBe(false);
  });
});

describe('toEventInput', () => {
  it('stamps an id and the tracking time once, and copies properties', () => {
    const properties = { endpoint: '/v1/a' };
    const input = toEventInput({ metric: 'api_calls', properties }, Date.UTC(2026, 0, 2));
    properties.endpoint = '/changed-later';
    expect(input).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      metric: 'api_calls',
      quantity: 1,
      timestamp: '2026-01-02T00:00:00.000Z',
      properties: { endpoint: '/v1/a' },
    });
  });
  it('keeps a given id, org and timestamp', () => {
    const at = new Date(Date.UTC(2026, 4, 1));
    expect(
      toEventInput({ metric: 'tokens', quantity: 5, id: 'job-7', orgId: 'T3Jn', timestamp: at }),
    ).toEqual({
      id: 'job-7',
      orgId: 'T3Jn',
      metric: 'tokens',
      quantity: 5,
      timestamp: '2026-05-01T00:00:00.000Z',
    });
  });
  it('refuses what cannot be sent, with a reason', () => {
    expect(() => toEventInput({ metric: '' })).toThrow(/metric/);
    expect(() => toEventInput({ metric: 'x', quantity: 2.5 })).toThrow(/quantity/);
    expect(() => toEventInput({ metric: 'x', timestamp: Number.NaN })).toThrow(/timestamp/);
    expect(() => toEventInput({ metric: 'x', properties: [] as never })).toThrow(/properties/);
  });
  it('sends only timestamps the server reads, as toISOString', () => {
    const at = (timestamp: string | number | Date) => toEventInput({ metric: 'x', timestamp }).timestamp;
    expect(at('2026-05-01T12:30:00+02:00')).toBe('2026-05-01T10:30:00.000Z');
    expect(at('2028-02-29t00:00:00.5z')).toBe('2028-02-29T00:00:00.500Z');
    expect(at(Date.UTC(2026, 4, 1))).toBe('2026-05-01T00:00:00.000Z');
    // What the server's DateTime refuses (the whole batch with it), or what would roll over.
    for (const bad of [
      '2025-06-01 10:00',
      '2025-06-01',
      '2025-06-01T10:00Z',
      'June 1, 2025',
      '2025-02-29T00:00:00Z',
      '2025-06-01T24:00:00Z',
      '2025-06-01T10:00:00+24:00',
      new Date('nope'),
      Date.UTC(10_000, 0, 1),
      true as never,
    ]) {
      expect(() => at(bad), String(bad)).toThrow(TypeError);
    }
  });
});
