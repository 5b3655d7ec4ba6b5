import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, openMemoryDatabase } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/logger.ts';
import { users } from '../../src/orgs/tables.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';

/** A failed statement logged as the server logs unexpected errors: its parameters never appear. */
describe.each(testDatabases())('log redaction (%s)', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
    drop = scratch?.drop;
    database = scratch
      ? await openDatabase({ databaseUrl: scratch.url, dataDir: '.data-test' })
      : await openMemoryDatabase();
    await migrate(database);
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it('writes no SQL parameter value of a failed statement', async () => {
    const secret = `hash-${'f'.repeat(40)}`;
    await database.db.insert(users).values({ id: secret });
    const failure = await database.db
      .insert(users)
      .values({ id: secret })
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toContain(secret); // drizzle's own message has it
    let output = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        output += String(chunk);
        done();
      },
    });
    createLogger('info', sink).error({ err: failure }, 'unexpected error');
    expect(output).toContain('unexpected error');
    expect(output).toContain('insert into');
    expect(output).not.toContain(secret);
  });
});
