import { describe, expect, it } from 'vitest';
import { isConnectionLoss, TransactionConnection } from '../../../src/db/connection-loss.ts';

const withCode = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });
/** Settles a microtask-and-timer later: enough for anything already scheduled to have run. */
const soon = () => new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 20));

describe('isConnectionLoss', () => {
  it('knows a lost connection: postgres.js codes, socket codes, terminated backends, wrapped', () => {
    for (const code of [
      'CONNECTION_CLOSED',
      'CONNECTION_DESTROYED',
      'ECONNRESET',
      'EPIPE',
      '57P01',
      '08006',
    ]) {
      expect(isConnectionLoss(withCode(code))).toBe(true);
    }
    expect(isConnectionLoss(Object.assign(new Error('x'), { severity: 'FATAL', code: 'XX000' }))).toBe(true);
    // drizzle wraps the driver's error as its cause.
    expect(isConnectionLoss(new Error('Failed query', { cause: withCode('57P01') }))).toBe(true);
  });

  it('does not take a statement error for one: those roll back and are not retried as is', () => {
    for (const code of ['23505', '57014', '40001', '25P02'])
      expect(isConnectionLoss(withCode(code))).toBe(false);
    expect(isConnectionLoss(new Error('boom'))).toBe(false);
    expect(isConnectionLoss(undefined)).toBe(false);
    expect(isConnectionLoss('CONNECTION_CLOSED')).toBe(false);
  });
});

describe('TransactionConnection', () => {
  it('passes a body’s value and its statement errors through while the connection lives', async () => {
    const connection = new TransactionConnection();
    await expect(connection.settle(() => 42)).resolves.toBe(42);
    await expect(
      connection.settle(() => {
        throw withCode('23505');
      }),
    ).rejects.toThrow('23505');
  });

  it('never settles a body once its connection is lost, so nothing more is sent on it', async () => {
    const connection = new TransactionConnection();
    // postgres.js rejects `begin` when the transaction's connection closes.
    connection.follow(Promise.reject(withCode('CONNECTION_CLOSED')));
    const failed = connection.settle(() => Promise.reject(withCode('CONNECTION_CLOSED')));
    expect(await Promise.race([failed, soon()])).toBe('pending');
    // Nor a body that succeeded just as the connection went (its commit was never sent).
    expect(await Promise.race([connection.settle(() => 'done'), soon()])).toBe('pending');
    // And a statement it still asks for is refused, never sent.
    expect(connection.lost).toBe(true);
    const refused = connection.refused();
    expect(refused.values()).toBe(refused);
    await expect(refused).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('rolls back as usual when a lost-connection error is not followed by a reported close', async () => {
    const connection = new TransactionConnection();
    connection.follow(new Promise(() => {}));
    await expect(connection.settle(() => Promise.reject(withCode('ECONNRESET')))).rejects.toThrow(
      'ECONNRESET',
    );
  });
});
